-- Specs, settings and payloads given metatables after they were declared.
local s = { channels = { "web" }, value = 1 }
action "a" (s)
setmetatable(s, { __index = function() error("boom") end })
local t = { limit = 2 }
touchpoint "web_home" (t)
setmetatable(t, { __index = function(_, k) return { "x" } end, __len = function() return 1e9 end })
local cfg = { default_limit = 2 }
settings(cfg)
setmetatable(cfg, { __pairs = function() error("boom") end })
local p = { k = 1 }
action "b" { channels = { "web" }, value = 1, payload = { p } }
setmetatable(p, { __index = function() local x = {} for i = 1, 1e7 do x[i] = i end return x end })
--@test
local spec = { context = { channel = "web" }, expect = { "a" } }
test "x" (spec)
setmetatable(spec, { __index = function() error("boom") end })
