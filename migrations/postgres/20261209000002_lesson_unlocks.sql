-- Scheduled unlocks (定时解锁): a lesson opens some Beijing days after the learner's start, or at
-- a given moment for everyone. Neither set: open at once, as before.
ALTER TABLE lessons ADD COLUMN unlock_day BIGINT CHECK (unlock_day > 0);
ALTER TABLE lessons ADD COLUMN unlock_at BIGINT;
