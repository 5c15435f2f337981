pcall(error, setmetatable({}, { __tostring = function() error("x") end }))
pcall(error) pcall(error, nil) pcall(error, 12) pcall(error, print)
action "e1" { channels = { "web" }, value = 1, when = function(c) error({}) end }
action "e2" { channels = { "web" }, value = 1, when = function(c) error(nil) end }
action "e3" { channels = { "web" }, value = 1, when = function(c) error(12.5) end }
action "e4" { channels = { "web" }, value = 1,
  weight = function(c) error(setmetatable({}, { __tostring = function() while true do end end })) end }
action "e5" { channels = { "web" }, value = 1, when = function(c)
  local t = setmetatable({}, { __index = function(t, k) return t[k] end }) return t.x end }
action "e6" { channels = { "web" }, value = 1, when = function(c)
  local function f(s) return (s:gsub(".", f)) end return f("x") end }
--@test
test "errors" { context = { channel = "web", touchpoint = "web_home" },
                reasons = { e1 = "error:", e5 = "budget:", e6 = "budget:" } }
