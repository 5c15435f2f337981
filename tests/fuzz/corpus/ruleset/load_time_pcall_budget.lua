for i = 1, 1e6 do pcall(function() while true do end end) end
