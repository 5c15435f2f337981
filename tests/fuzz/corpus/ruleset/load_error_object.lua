action "a" { channels = { "web" }, value = 1 }
error(setmetatable({}, { __tostring = function() error("x") end }))
