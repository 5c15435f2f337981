local loop = function() while true do end end
local ok, e = xpcall(error, loop)
xpcall(error, function(m) return xpcall(error, error, m) end, {})
action "x" { channels = { "web" }, value = 1, when = function(c)
  return xpcall(loop, function(m) for i = 1, 1e9 do end return m end) end }
action "y" { channels = { "web" }, value = 1,
  weight = function(c) return select(2, xpcall(error, function(m) return #m end, "abc")) end }
