-- Found by hand with this harness (see mutated-condition-op-nil.lua).
local c = attribute("tier", one_of { "gold" })
c.cmp.list = { {} }
action "a" { channels = { "web" }, value = 1, when = c }
