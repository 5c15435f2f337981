local s = ("a"):rep(10000)
local shapes = { ("a?"):rep(40) .. ("a"):rep(40), ".-.-.-.-x", "(.-)*(.-)*x", "(a*)%1%1b",
                 "%b()%b()%b()", "%f[%w]%w+", "[%a]*[^b]*x", "^(a-)(a-)$" }
for _, p in ipairs(shapes) do
  pcall(string.find, s, p) pcall(string.match, s, p) pcall(string.gsub, s, p, function(x) return x end)
  pcall(function() for w in s:gmatch(p) do end end)
  pcall(string.find, 12345678901234567890, p)
end
action "pat" { channels = { "web" }, value = 1, when = function(c)
  return string.find(c.customer_id:rep(500), ("a?"):rep(30) .. ("a"):rep(30)) ~= nil end }
