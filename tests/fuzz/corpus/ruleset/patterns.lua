local s = ("a"):rep(5000)
local ok = pcall(string.find, s, "(a*)*b")
local n = select(2, s:gsub("a", "%0%0"))
action "p" { channels = { "web" }, value = n % 7 + 1,
  when = function(c) return (c.customer_id or ""):match("^(%w+)-(%d+)$") ~= nil end }
