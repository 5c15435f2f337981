for i = 1, 300 do
  action ("gen_" .. i) { chaznnels = { "web"< "app" }, value3= i,
       weight = recency("c" .. i, days(0 + i % 15)) }
end
