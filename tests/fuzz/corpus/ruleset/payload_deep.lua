local p = {} local q = p
for i = 1, 40 do q.next = {} q = q.next end
action "deep" { channels = { "web" }, value = 1, payload = p }
action "cyclic" { channels = { "web" }, value = 1, payload = { f = function() end } }
