-- The challenger of experiment "spring_weights" (../measurement.lua).
--
-- A challenger folder holds only the files that differ from the champion's:
-- the champion's other files complete it. Here seasonal.lua values the
-- winter sale 20 instead of 15, and this file replaces the champion's
-- measurement.lua: the same 5% hold-out (same salt), so both arms are
-- measured alike, and no experiment of its own.
control { share = 0.05, salt = "retail-holdout-2026", gets = "fallback" }
