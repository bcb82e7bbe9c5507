-- The back office: staff second factor (TOTP and recovery codes), sign-out-everywhere, account
-- status, login history, the audit log, and course ordering and scheduled publishing.
-- The TOTP secret is stored encrypted with a key derived from the master key.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enabled_at BIGINT;
-- The last accepted TOTP time step: a code is good once.
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
-- Bumped to end every session of the account (sessions remember the version they began with).
ALTER TABLE users ADD COLUMN session_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE users ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';

CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

CREATE TABLE logins (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method TEXT NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    session_version BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX logins_user ON logins (user_id, created_at);

-- Every change a staff member makes: who, what, when, before and after (JSON).
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    staff_id BIGINT NOT NULL REFERENCES users (id),
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    before_json TEXT NOT NULL,
    after_json TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_log_created ON audit_log (created_at);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id);

ALTER TABLE courses ADD COLUMN position BIGINT NOT NULL DEFAULT 0;
-- When set and published = 0, the course goes on sale at that time.
ALTER TABLE courses ADD COLUMN publish_at BIGINT;
ALTER TABLE entitlements ADD COLUMN note TEXT NOT NULL DEFAULT '';

-- Days on which a learner studied (Shanghai calendar day number, unix days shifted by +8 h):
-- daily and weekly active learners for the statistics page.
CREATE TABLE learner_days (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day BIGINT NOT NULL,
    PRIMARY KEY (day, user_id)
);

-- Announcements: a site banner (scheduled, dismissible) or a message to learners (everyone or
-- a course's buyers), fanned out into user_messages when sent.
CREATE TABLE announcements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('banner', 'message')),
    title TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    link TEXT NOT NULL DEFAULT '',
    audience TEXT NOT NULL DEFAULT 'all',
    course_id BIGINT REFERENCES courses (id),
    starts_at BIGINT NOT NULL,
    ends_at BIGINT,
    recipients BIGINT NOT NULL DEFAULT 0,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX announcements_kind ON announcements (kind, starts_at);
ALTER TABLE user_messages ADD COLUMN announcement_id BIGINT REFERENCES announcements (id);
CREATE INDEX user_messages_unread ON user_messages (user_id, read_at);

-- Shop settings operators change in the back office (name, logo, policy texts, refund defaults,
-- SMS wording); a missing key means the built-in default.
CREATE TABLE shop_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The keyword filter and what it held for review. A held nickname waits here until staff
-- approve it; held complaint or refund text is accepted and listed for staff to read.
CREATE TABLE content_keywords (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    word TEXT NOT NULL UNIQUE,
    action TEXT NOT NULL CHECK (action IN ('reject', 'hold')),
    created_at BIGINT NOT NULL
);
CREATE TABLE moderation_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('nickname', 'complaint', 'refund')),
    text TEXT NOT NULL,
    matched TEXT NOT NULL,
    link TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('held', 'approved', 'hidden')),
    created_at BIGINT NOT NULL,
    decided_by BIGINT REFERENCES users (id),
    decided_at BIGINT
);
CREATE INDEX moderation_items_status ON moderation_items (status, id);
