-- A cohort's own check-ins, homework and live sessions (#33): a post and a homework carry the
-- cohort their author was in when they wrote it (a check-in wall per cohort, a homework queue per
-- cohort); a cohort can hold a live lesson at its own time, in its own room.
ALTER TABLE check_ins ADD COLUMN cohort_id BIGINT REFERENCES cohorts (id);
CREATE INDEX check_ins_cohort_wall ON check_ins (cohort_id, status, created_at) WHERE cohort_id IS NOT NULL;
ALTER TABLE homework ADD COLUMN cohort_id BIGINT REFERENCES cohorts (id);
CREATE INDEX homework_cohort ON homework (cohort_id, status, updated_at) WHERE cohort_id IS NOT NULL;
CREATE TABLE cohort_live_sessions (
    cohort_id BIGINT NOT NULL REFERENCES cohorts (id),
    lesson_id BIGINT NOT NULL REFERENCES lessons (id),
    starts_at BIGINT NOT NULL,
    -- NULL: the lesson's own room.
    live_url TEXT,
    PRIMARY KEY (cohort_id, lesson_id)
);
