local function f() return 1 + f() end
pcall(f)
local t = setmetatable({}, { __index = function(t, k) return t[k] end })
pcall(function() return t.x end)
local function g(s) return (s:gsub(".", g)) end
pcall(g, "x")
local u = {} u = setmetatable(u, { __concat = function(a, b) return a .. b end })
pcall(function() return u .. u end)
action "r" { channels = { "web" }, value = 1, when = function(c) return f() > 0 end }
