-- Found by hand with this harness: the compiler trusts vocabulary tables,
-- which rule files can change after the vocabulary built them.
local c = raining()
c.op = nil
action "a" { channels = { "web" }, value = 1, when = c }
