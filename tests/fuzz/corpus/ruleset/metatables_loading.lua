local loop = function() while true do end end
local liar = { __len = function() return 1 << 50 end, __index = rawlen, __pairs = loop,
               __newindex = loop, __tostring = loop, __eq = loop, __lt = loop, __concat = loop }
local kept = setmetatable({ 1, 2, 3 }, liar)
action "p1" { channels = { "web" }, value = 1,
  payload = { a = setmetatable({ x = 1 }, liar), b = setmetatable({ 1, 2 }, { __index = loop }) } }
action "p2" { channels = { "web" }, value = 1, when = function(c) return #kept > 0 end,
  weight = function(c) return setmetatable({}, { __index = function() return 2 end }).w end }
action "p3" { channels = { "web" }, value = 1, when = function(c) return tostring(kept) end }
--@test
test "mt" { context = { channel = "web", touchpoint = "web_home" },
            includes = { "p1" }, reasons = { p3 = "budget:" } }
