local c = no(bought("x")); c[1] = nil
action "a" { channels = "web", value = 1, when = c }
