local loop = function() while true do end end
local liar = { __len = function() return 1 << 50 end, __index = rawlen, __pairs = loop }
pcall(function() action "m1" (setmetatable({ channels = { "web" }, value = 1 }, { __index = loop })) end)
pcall(function() action "m0" { channels = setmetatable({ "web" }, liar), value = 1 } end)
action "m2" { channels = { "web" }, value = 1,
  payload = setmetatable({ a = setmetatable({}, liar), b = { 1, 2 } }, { __index = loop, __len = loop }) }
pcall(touchpoint "mt", setmetatable({ limit = 2 }, { __index = function() error({}) end }))
action "m3" (setmetatable({}, { __index = function(t, k)
  if k == "channels" then return { "web" } elseif k == "value" then return 1 end end }))
action "m4" { channels = { "web" }, value = 1, when = setmetatable({}, { __call = loop }),
  weight = setmetatable({}, { __index = loop, __mul = loop }) }
--@test
test "mt" (setmetatable({ context = setmetatable({ channel = "web" }, liar) }, { __index = loop }))
test "mt2" { context = { channel = "web", touchpoint = "web_home" },
             expect = setmetatable({ "m2" }, liar), reasons = setmetatable({}, { __pairs = loop }) }
