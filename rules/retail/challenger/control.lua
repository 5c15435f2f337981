-- The challenger of experiment "spring_weights" (../measurement.lua): a
-- copy of the champion's rule files with the winter sale valued 20
-- (seasonal.lua). It holds out the same 5% as the champion (same salt).
control { share = 0.05, salt = "retail-holdout-2026", gets = "fallback" }
