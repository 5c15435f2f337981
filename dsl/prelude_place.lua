-- The words on the weather, the customer's place and their consents, a part
-- of the prelude (dsl/prelude.lua runs it with C.part("place") and its own
-- helpers). Like the prelude, these functions only build marked tables
-- (compiled to C by engine/ruleset/compile_cond.c) and check their
-- arguments at the rule's line.

local P = ...
local V, cond, as_cmp = P.V, P.cond, P.as_cmp
local check_string, check_number = P.check_string, P.check_number

function V.weather(condition)
  return cond { op = "weather", is = check_string("weather", "a condition such as \"rain\"", condition) }
end
function V.raining() return V.weather("rain") end
function V.snowing() return V.weather("snow") end
function V.temperature(c) return cond { op = "temp", cmp = as_cmp("temperature", c) } end
function V.hot() return V.temperature(V.at_least(25)) end
function V.cold() return V.temperature(V.at_most(5)) end

-- Location conditions are false unless the customer consented to share
-- location: the engine enforces it, whatever the rule says.
function V.near_store(distance)
  check_number("near_store", "a distance such as km(2)", distance)
  return cond { op = "near_store", km = distance }
end
function V.in_store(store_id)
  if store_id ~= nil then check_string("in_store", "a store id", store_id) end
  return cond { op = "in_store", store = store_id }
end
function V.in_country(country)
  return cond { op = "country", is = check_string("in_country", "a country code", country) }
end
function V.consented(name)
  return cond { op = "consent", name = check_string("consented", "a consent name", name) }
end
