-- Cohorts (营期): a course sold in runs that start together, each with its seats and sale window.
-- The order carries the cohort picked, and the entitlement the cohort its learner is in (staff
-- can move them); scheduled lessons count from the cohort's start.
CREATE TABLE cohorts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    course_id BIGINT NOT NULL REFERENCES courses (id),
    name TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    capacity BIGINT NOT NULL CHECK (capacity > 0),
    sale_starts_at BIGINT NOT NULL,
    sale_ends_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK (sale_starts_at <= sale_ends_at)
);
CREATE INDEX cohorts_course ON cohorts (course_id, starts_at);
ALTER TABLE orders ADD COLUMN cohort_id BIGINT REFERENCES cohorts (id);
ALTER TABLE entitlements ADD COLUMN cohort_id BIGINT REFERENCES cohorts (id);
CREATE INDEX entitlements_cohort ON entitlements (cohort_id) WHERE cohort_id IS NOT NULL;
CREATE INDEX orders_cohort_pending ON orders (cohort_id) WHERE cohort_id IS NOT NULL AND status = 'pending';
