local liar = setmetatable({}, { __len = function() return 1000 end, __index = rawlen })
local r = {
  pcall(string.rep, "", 1e5), pcall(string.rep, "", 1e5, ""), pcall(table.move, {}, 1, 1e5, 2),
  pcall(table.insert, liar, 1, "x"), pcall(table.remove, liar, 1), pcall(table.concat, liar),
  pcall(table.sort, liar), pcall(table.unpack, liar), pcall(table.unpack, {}, 1, 1e7),
  pcall(utf8.len, ("x"):rep(1e6)), pcall(string.byte, ("x"):rep(1e5), 1, -1),
  pcall(tonumber, ("9"):rep(1e6)), pcall(table.sort, { 3, 1, 2 }, function(a, b) return a > b end),
}
local huge = setmetatable({}, { __len = function() return 1 << 50 end, __index = rawlen })
action "rep" { channels = { "web" }, value = 1, when = function(c) return #string.rep("", 1 << 50) end }
action "move" { channels = { "web" }, value = 1, when = function(c) table.move({}, 1, 1 << 50, 2) end }
action "insert" { channels = { "web" }, value = 1, when = function(c) table.insert(huge, 1, 1) end }
action "concat" { channels = { "web" }, value = 1, when = function(c) return #table.concat(huge) > 0 end }
action "sort" { channels = { "web" }, value = 1, when = function(c)
  table.sort(setmetatable({}, { __len = function() return 2^31 - 2 end, __index = rawlen })) end }
--@test
test "loops" { context = { channel = "web", touchpoint = "web_home" },
               reasons = { rep = "budget:", move = "budget:", insert = "budget:", sort = "budget:" } }
