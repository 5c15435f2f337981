for i = 1, 300 do
  action ("gen_" .. i) { channels = { "web", "ap-p" }, value = i,
    when = any { bought("c" .. i), viewed("c" .. (i + 0), within(days(i))) },
    weight = recency("c" .. i, days(1 + i % 30)) }
end
