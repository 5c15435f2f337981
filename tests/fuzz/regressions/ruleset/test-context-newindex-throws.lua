action "a" { channels = { "web" }, value = 1 }
--@test
local c = setmetatable({ channel = "web" }, { __newindex = function() error("boom") end,
                                              __index = function() error("boom") end })
test "x" { context = c, expect = { "a" } }
