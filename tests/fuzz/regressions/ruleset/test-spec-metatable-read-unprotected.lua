action "a" { channels = { "web" }, value = 1 }
--@test
local loop = function() while true do end end
test "mt" { context = setmetatable({ channel = "web", touchpoint = "web_home" }, { __index = loop }) }
test "mt2" (setmetatable({ context = { channel = "web" } }, { __index = function() error({}) end }))
