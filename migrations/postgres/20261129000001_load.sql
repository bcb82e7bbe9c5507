-- Takedown day: the back office stays quick on a big shop.

-- Statistics read orders by the day they were made and the day they were paid (covering, so the
-- table itself is not read), and users by the day they joined.
CREATE INDEX orders_created ON orders (created_at, course_id);
CREATE INDEX orders_paid ON orders (paid_at, course_id, amount_fen, refunded_fen);
CREATE INDEX users_created ON users (created_at);
CREATE INDEX entitlements_course ON entitlements (course_id, revoked_at);
CREATE INDEX lesson_progress_completed ON lesson_progress (course_id, user_id) WHERE completed_at IS NOT NULL;
CREATE INDEX refund_requests_completed ON refund_requests (completed_at) WHERE status = 'refunded';

-- Sales per Shanghai day and course, stored once a day is over (today is always counted live).
-- A refund of an older order or an import deletes the days it changes; they are counted again
-- when next asked for.
CREATE TABLE sales_days (
    day BIGINT NOT NULL,
    course_id BIGINT NOT NULL,
    orders BIGINT NOT NULL,
    paid_orders BIGINT NOT NULL,
    revenue_fen BIGINT NOT NULL,
    refunded_orders BIGINT NOT NULL,
    refunded_fen BIGINT NOT NULL,
    PRIMARY KEY (day, course_id)
);

-- The days whose rows in sales_days are complete (a day without sales has no rows, but is here).
CREATE TABLE sales_days_done (
    day BIGINT PRIMARY KEY
);
