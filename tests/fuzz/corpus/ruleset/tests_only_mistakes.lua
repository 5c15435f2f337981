action "a" { channels = { "web" }, value = 1 }
--@test
test "no context" { expect = { "a" } }
test "bad context" { context = { channel = 5 }, expect = { "a" } }
test "fn in context" { context = { channel = "web", touchpoint = "web_home", f = print } }
test "wrong" { context = { channel = "web", touchpoint = "web_home" }, expect = { "b" },
               includes = { "zz" }, excludes = { "a" }, reasons = { a = "nope" } }
