-- Products that work as sold (#19): membership terms and the courses they open, consultation
-- slots, reviews, and the reminders sent once each.

-- A membership product's period (month, quarter, year) and scope (all courses, or the ones
-- marked for members). Any course: none, free (members learn it free), only (members only, not
-- sold on its own) or price (members pay member_price_fen).
ALTER TABLE courses ADD COLUMN membership_period TEXT;
ALTER TABLE courses ADD COLUMN membership_scope TEXT NOT NULL DEFAULT 'selected';
ALTER TABLE courses ADD COLUMN member_rule TEXT NOT NULL DEFAULT 'none';
ALTER TABLE courses ADD COLUMN member_price_fen BIGINT;

-- One paid membership order's stretch of time. A learner's terms follow each other without
-- overlap: a purchase starts at the end of the last one still running. A refund ends (or
-- revokes) the order's term and moves the later ones up.
CREATE TABLE membership_terms (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    plan_id BIGINT NOT NULL REFERENCES courses (id),
    order_id BIGINT NOT NULL UNIQUE REFERENCES orders (id),
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    ended_early_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX membership_terms_user ON membership_terms (user_id, ends_at);
CREATE INDEX membership_terms_ends ON membership_terms (ends_at);

-- A consultation's bookable times. `order_id` is the order that holds it (pending) or booked it
-- (paid); a slot whose order closed or was refunded is free again.
CREATE TABLE consultation_slots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    course_id BIGINT NOT NULL REFERENCES courses (id),
    starts_at BIGINT NOT NULL,
    minutes BIGINT NOT NULL,
    meeting TEXT NOT NULL DEFAULT '',
    order_id BIGINT REFERENCES orders (id),
    created_by BIGINT REFERENCES users (id),
    created_at BIGINT NOT NULL,
    UNIQUE (course_id, starts_at)
);
CREATE INDEX consultation_slots_order ON consultation_slots (order_id);
CREATE INDEX consultation_slots_starts ON consultation_slots (starts_at);

-- One review per learner and course. Status: shown, held (a keyword held it for staff), hidden.
CREATE TABLE reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    course_id BIGINT NOT NULL REFERENCES courses (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    stars BIGINT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    reply TEXT NOT NULL DEFAULT '',
    replied_at BIGINT,
    reports BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (course_id, user_id)
);
CREATE INDEX reviews_course ON reviews (course_id, status, updated_at);

CREATE TABLE review_reports (
    review_id BIGINT NOT NULL REFERENCES reviews (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (review_id, user_id)
);

-- Reminders (membership ending, live session, consultation slot): one row per event, written
-- with its site message, so a reminder goes out once however often the job runs.
CREATE TABLE reminders_sent (
    event_key TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    sent_at BIGINT NOT NULL
);

-- The learner agreed to reminders by text as well as on the site.
ALTER TABLE users ADD COLUMN sms_reminders BIGINT NOT NULL DEFAULT 0;

-- Held reviews join the moderation queue: its kind check gains 'review' (SQLite rebuilds the
-- table to change a check).
CREATE TABLE moderation_items_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('nickname', 'complaint', 'refund', 'review', 'checkin', 'homework')),
    text TEXT NOT NULL,
    matched TEXT NOT NULL,
    link TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('held', 'approved', 'hidden')),
    created_at BIGINT NOT NULL,
    decided_by BIGINT REFERENCES users (id),
    decided_at BIGINT
);
INSERT INTO moderation_items_new SELECT id, user_id, kind, text, matched, link, status, created_at, decided_by, decided_at FROM moderation_items;
DROP TABLE moderation_items;
ALTER TABLE moderation_items_new RENAME TO moderation_items;
CREATE INDEX moderation_items_status ON moderation_items (status, id);

-- Reviews may carry photos: attachments' owner check gains 'review' (rebuilt, as above).
CREATE TABLE attachments_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_kind TEXT NOT NULL CHECK (owner_kind IN ('refund', 'complaint', 'review', 'homework')),
    owner_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id),
    storage_key TEXT NOT NULL UNIQUE,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    file_name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO attachments_new SELECT id, owner_kind, owner_id, user_id, storage_key, content_type, size_bytes, file_name, created_at FROM attachments;
DROP TABLE attachments;
ALTER TABLE attachments_new RENAME TO attachments;
CREATE INDEX attachments_owner ON attachments (owner_kind, owner_id);
