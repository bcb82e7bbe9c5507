-- Group-buy (拼团, #20): a course's group offer, the groups buyers open, and their seats.

-- One offer per course: the group price, seats, hours to fill, when groups may be opened, and
-- whether the shop completes a group one seat short when its time runs out.
CREATE TABLE group_offers (
    course_id BIGINT PRIMARY KEY REFERENCES courses (id),
    price_fen BIGINT NOT NULL CHECK (price_fen > 0),
    size BIGINT NOT NULL CHECK (size BETWEEN 2 AND 10),
    fill_hours BIGINT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    complete_one_short BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);

-- A group, with the offer's terms frozen at its opening. Status: pending (its opener has not
-- paid), open, full, failed.
CREATE TABLE group_buys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    course_id BIGINT NOT NULL REFERENCES courses (id),
    opener_id BIGINT NOT NULL REFERENCES users (id),
    status TEXT NOT NULL,
    price_fen BIGINT NOT NULL,
    size BIGINT NOT NULL,
    fill_secs BIGINT NOT NULL,
    complete_one_short BIGINT NOT NULL DEFAULT 0,
    deadline BIGINT,
    created_at BIGINT NOT NULL,
    settled_at BIGINT
);
CREATE INDEX group_buys_course ON group_buys (course_id, status);
CREATE INDEX group_buys_deadline ON group_buys (status, deadline);

-- The order a group is bought under.
ALTER TABLE orders ADD COLUMN group_id BIGINT REFERENCES group_buys (id);

-- A paid seat. Status: joined, or refund (its payment goes back: the group failed, or it came
-- for a full or closed group, or for a second seat). `refund_no` is the refund made for it, once.
CREATE TABLE group_members (
    order_id BIGINT PRIMARY KEY REFERENCES orders (id),
    group_id BIGINT NOT NULL REFERENCES group_buys (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    status TEXT NOT NULL,
    refund_no TEXT,
    joined_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX group_members_one_seat ON group_members (group_id, user_id) WHERE status = 'joined';
CREATE INDEX group_members_refunds ON group_members (status, refund_no);
