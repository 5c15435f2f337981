-- Honest measurement (dsl/README.md, "Control groups and experiments").
--
-- 5% of customers are a global hold-out: they get the bestsellers (the
-- fallback) instead of what the rules chose, so `arbiter report` can
-- compare what customers did with and without personalisation. The salt
-- names the period: a new salt draws a new hold-out.
control { share = 0.05, salt = "retail-holdout-2026", gets = "fallback",
          description = "global hold-out, 2026" }

-- 10% of customers are decided by the challenger (challenger/): the same
-- rules with the winter sale weighted up. Its own control { } holds out
-- the same 5% (same salt), so both arms are measured alike.
experiment "spring_weights" {
  challenger  = "challenger",
  share       = 0.1,
  salt        = "spring-2026",
  description = "winter sale valued 20 instead of 15",
}
