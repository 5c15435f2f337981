local c = bought("laptop", within(days(30)))
c.window = 12
local w = recency("laptop", days(14))
action "m" { channels = { "web" }, value = 1, when = all { c, raining() }, weight = w * 2 }
