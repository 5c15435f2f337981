-- A condition that is its own child: unbounded recursion before the memo.
local c = all { raining() }
c[2] = c
c[3] = c
action "a" { channels = { "web" }, value = 1, when = c }
