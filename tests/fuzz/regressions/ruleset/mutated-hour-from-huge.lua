-- Found by hand with this harness (see mutated-condition-op-nil.lua).
local c = hour_between(1, 2)
c.from = 1e300
action "a" { channels = { "web" }, value = 1, when = c }
