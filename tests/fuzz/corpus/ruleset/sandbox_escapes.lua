local ok = pcall(function() return io.open("/etc/passwd") end)
local s = getmetatable("")
local mt = getmetatable(raining())
setmetatable({}, { __gc = function() end })
string.rep = nil
action "a" { channels = { "web" }, value = 1 }
