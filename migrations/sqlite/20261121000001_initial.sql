-- Initial schema. Money is integer fen, times are unix seconds (UTC), flags are 0/1.
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    phone TEXT NOT NULL UNIQUE,
    nickname TEXT NOT NULL,
    password_hash TEXT,
    role TEXT NOT NULL DEFAULT 'learner',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE categories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    position BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE instructors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    title TEXT NOT NULL,
    bio TEXT NOT NULL,
    avatar_url TEXT NOT NULL
);

CREATE TABLE courses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    category_id BIGINT NOT NULL REFERENCES categories (id),
    instructor_id BIGINT NOT NULL REFERENCES instructors (id),
    title TEXT NOT NULL,
    subtitle TEXT NOT NULL,
    description TEXT NOT NULL,
    cover_url TEXT NOT NULL,
    price_fen BIGINT NOT NULL CHECK (price_fen >= 0),
    original_price_fen BIGINT NOT NULL CHECK (original_price_fen >= 0),
    learner_count BIGINT NOT NULL DEFAULT 0,
    outcomes TEXT NOT NULL,
    audience TEXT NOT NULL,
    non_refundable BIGINT NOT NULL DEFAULT 0,
    refund_window_days BIGINT NOT NULL DEFAULT 7,
    refund_max_consumed_pct BIGINT NOT NULL DEFAULT 20,
    membership_days BIGINT,
    consult_minutes BIGINT,
    featured BIGINT NOT NULL DEFAULT 0,
    published BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX courses_category ON courses (category_id);

CREATE TABLE chapters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    course_id BIGINT NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    position BIGINT NOT NULL
);
CREATE INDEX chapters_course ON chapters (course_id, position);

CREATE TABLE lessons (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    course_id BIGINT NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    chapter_id BIGINT NOT NULL REFERENCES chapters (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    duration_secs BIGINT NOT NULL DEFAULT 0,
    free_preview BIGINT NOT NULL DEFAULT 0,
    position BIGINT NOT NULL,
    starts_at BIGINT
);
CREATE INDEX lessons_chapter ON lessons (chapter_id, position);

CREATE TABLE sms_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    phone TEXT NOT NULL,
    purpose TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    ip TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    consumed_at BIGINT
);
CREATE INDEX sms_codes_phone ON sms_codes (phone, created_at);
CREATE INDEX sms_codes_ip ON sms_codes (ip, created_at);

CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX login_failures_user ON login_failures (user_id, created_at);

-- Server-side sessions; the id is the SHA-256 of the cookie's session key.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
