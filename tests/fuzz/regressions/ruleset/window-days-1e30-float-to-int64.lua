action "a" { channels = { "web" }, value = 1, when = bought("laptop", within(days(1e30))) }
