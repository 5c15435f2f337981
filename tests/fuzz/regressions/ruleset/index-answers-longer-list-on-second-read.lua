-- The touchpoints array was sized from one read of an __index and filled
-- from a second, longer answer: a heap overflow before the loader read raw.
local n = 0
local s = { channels = { "web" }, value = 1 }
action "a" (s)
setmetatable(s, { __index = function(_, k)
  if k ~= "touchpoints" and k ~= "requires" then return nil end
  n = n + 1
  local l = {} for i = 1, n * 1000 do l[i] = "tp" .. i end return l end })
