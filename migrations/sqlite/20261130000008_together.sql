-- Group-buy (拼团), check-in challenges (打卡) and homework (作业), #20.

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

-- A course's check-in challenge: `days` Beijing days from `first_day` (a day number: days since
-- 1970-01-01 in Beijing), with the prompt of each day (one line a day; the last repeats).
CREATE TABLE checkin_challenges (
    course_id BIGINT PRIMARY KEY REFERENCES courses (id),
    first_day BIGINT NOT NULL,
    days BIGINT NOT NULL CHECK (days BETWEEN 1 AND 365),
    prompts TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One post a learner a day. Status: shown, held (a keyword held it), hidden (by staff).
CREATE TABLE check_ins (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    course_id BIGINT NOT NULL REFERENCES courses (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    day BIGINT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (course_id, user_id, day)
);
CREATE INDEX check_ins_wall ON check_ins (course_id, status, created_at);

-- A lesson's assignment (NULL: none).
ALTER TABLE lessons ADD COLUMN assignment TEXT;

-- A learner's homework for a lesson: revised until reviewed, then graded with a comment.
-- Status: submitted, reviewed.
CREATE TABLE homework (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    lesson_id BIGINT NOT NULL REFERENCES lessons (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    grade TEXT NOT NULL DEFAULT '',
    comment TEXT NOT NULL DEFAULT '',
    reviewed_by BIGINT REFERENCES users (id),
    reviewed_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (lesson_id, user_id)
);
CREATE INDEX homework_queue ON homework (status, updated_at);
