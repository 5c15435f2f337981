-- Tables that contain themselves, and 2^60 paths through 60 shared tables.
local c = all { raining() }
c[2] = c
local w = score("churn") * 2
w.l = w
local p = { 1 }
p.self = p
action "a" { channels = { "web" }, value = 1, when = c, weight = w, payload = p }
local d = raining()
for i = 1, 60 do d = any { d, no(d) } end
local q = { "leaf" }
for i = 1, 30 do q = { q, q } end
action "b" { channels = { "web" }, value = 1, when = d, payload = { q } }
local deep = raining()
for i = 1, 5000 do deep = no(deep) end
action "c" { channels = { "web" }, value = 1, when = deep }
