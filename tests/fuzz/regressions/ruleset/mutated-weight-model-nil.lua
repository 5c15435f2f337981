-- Found by hand with this harness (see mutated-condition-op-nil.lua).
local w = score("engagement")
w.model = nil
action "a" { channels = { "web" }, value = 1, weight = w }
