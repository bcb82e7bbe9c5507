-- Continuity: data imported from the mini program. An imported order keeps the mini program's
-- order id (external_id) so a second import updates it instead of adding another.
ALTER TABLE orders ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX orders_external ON orders (external_id);

-- Mini program product id → course.
CREATE TABLE course_mappings (
    product_id TEXT PRIMARY KEY,
    course_id BIGINT NOT NULL REFERENCES courses (id),
    updated_at BIGINT NOT NULL
);

-- Outside identities of an account (WeChat unionid, a mini program or official account openid).
CREATE TABLE user_identities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (provider, value)
);
CREATE INDEX user_identities_user ON user_identities (user_id);

-- Every import run, with its report.
CREATE TABLE imports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    dry_run BIGINT NOT NULL,
    report TEXT NOT NULL,
    created_by BIGINT REFERENCES users (id),
    created_at BIGINT NOT NULL
);

-- Phones that asked not to receive broadcast text messages.
CREATE TABLE sms_optouts (
    phone TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

-- Text messages to every learner or a course's holders, sent throttled in the background.
CREATE TABLE sms_broadcasts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    text TEXT NOT NULL,
    course_id BIGINT REFERENCES courses (id),
    total BIGINT NOT NULL DEFAULT 0,
    sent BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('sending', 'done')),
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
