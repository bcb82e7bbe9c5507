-- Baseline: every migration up to 2026-11-30's release, in order, as one. The files it replaces
-- were edited after they landed; this one starts the history again (migrations/README.md).

-- ── 20261121000001_initial.sql ──
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

-- ── 20261121000002_orders.sql ──
-- Orders, payments, entitlements and coupons. Money in fen; times in unix seconds (UTC).
CREATE TABLE coupons (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('fixed', 'percent')),
    value BIGINT NOT NULL CHECK (value > 0),
    min_spend_fen BIGINT NOT NULL DEFAULT 0,
    valid_from BIGINT NOT NULL,
    valid_until BIGINT NOT NULL,
    total_limit BIGINT,
    per_user_limit BIGINT,
    course_id BIGINT REFERENCES courses (id),
    created_at BIGINT NOT NULL
);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_no TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id),
    course_id BIGINT NOT NULL REFERENCES courses (id),
    -- The item as sold, kept even if the course changes later.
    item_title TEXT NOT NULL,
    item_kind TEXT NOT NULL,
    price_fen BIGINT NOT NULL CHECK (price_fen >= 0),
    discount_fen BIGINT NOT NULL DEFAULT 0 CHECK (discount_fen >= 0),
    amount_fen BIGINT NOT NULL CHECK (amount_fen >= 0),
    non_refundable BIGINT NOT NULL,
    refund_window_days BIGINT NOT NULL,
    refund_max_consumed_pct BIGINT NOT NULL,
    refund_terms_shown TEXT NOT NULL,
    coupon_id BIGINT REFERENCES coupons (id),
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    paid_at BIGINT,
    closed_at BIGINT,
    close_reason TEXT,
    pay_provider TEXT,
    pay_channel TEXT,
    provider_txn_id TEXT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX orders_user ON orders (user_id, created_at);
CREATE INDEX orders_pending ON orders (status, expires_at);
-- At most one pending order per buyer and course: a second click reuses it.
CREATE UNIQUE INDEX orders_one_pending ON orders (user_id, course_id) WHERE status = 'pending';

-- A coupon held by an order: reserved while pending, consumed when paid, released when closed.
CREATE TABLE coupon_redemptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    coupon_id BIGINT NOT NULL REFERENCES coupons (id),
    order_id BIGINT NOT NULL UNIQUE REFERENCES orders (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    status TEXT NOT NULL CHECK (status IN ('reserved', 'consumed', 'released')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX coupon_redemptions_coupon ON coupon_redemptions (coupon_id, status);

-- One row per money movement reported by a provider; the unique key makes fulfilment idempotent.
CREATE TABLE payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    provider TEXT NOT NULL,
    provider_txn_id TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    currency TEXT NOT NULL,
    -- applied: fulfilled the order; late: arrived for a closed order and must be refunded.
    outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'late')),
    paid_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (provider, provider_txn_id)
);
CREATE INDEX payments_order ON payments (order_id);

-- Every notification as received, with the verdict, for audit.
CREATE TABLE payment_notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    headers TEXT NOT NULL,
    body TEXT NOT NULL,
    verdict TEXT NOT NULL,
    order_no TEXT
);

-- Who may learn what. Revoked rows stay for the record.
CREATE TABLE entitlements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    course_id BIGINT NOT NULL REFERENCES courses (id),
    source TEXT NOT NULL,
    order_id BIGINT REFERENCES orders (id),
    granted_at BIGINT NOT NULL,
    revoked_at BIGINT,
    UNIQUE (user_id, course_id)
);

-- The sandbox gateway's own ledger (it plays the outside payment service).
CREATE TABLE sandbox_gateway (
    order_no TEXT PRIMARY KEY,
    amount_fen BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('created', 'paid', 'closed')),
    txn_id TEXT,
    paid_at BIGINT
);

CREATE TABLE sandbox_refunds (
    out_refund_no TEXT PRIMARY KEY,
    order_no TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- ── 20261121000003_learning.sql ──
-- Lesson content and media, learning progress, HLS keys.
ALTER TABLE lessons ADD COLUMN media_key TEXT;
ALTER TABLE lessons ADD COLUMN hls_dir TEXT;
ALTER TABLE lessons ADD COLUMN body TEXT;
ALTER TABLE lessons ADD COLUMN notes TEXT NOT NULL DEFAULT '';
ALTER TABLE lessons ADD COLUMN live_url TEXT;

-- One row per learner and lesson, written by one upsert per progress report.
CREATE TABLE lesson_progress (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lesson_id BIGINT NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
    course_id BIGINT NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    last_position_secs BIGINT NOT NULL,
    furthest_secs BIGINT NOT NULL,
    duration_secs BIGINT NOT NULL,
    completed_at BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, lesson_id)
);
CREATE INDEX lesson_progress_course ON lesson_progress (user_id, course_id, updated_at);

-- AES-128 keys of packaged HLS lessons: served only to entitled viewers, never as files.
CREATE TABLE hls_keys (
    lesson_id BIGINT PRIMARY KEY REFERENCES lessons (id) ON DELETE CASCADE,
    key_hex TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- ── 20261121000004_late_refunds.sql ──
-- Payments that arrived for closed orders are refunded automatically; the refund number is
-- fixed once and reused on every retry.
ALTER TABLE payments ADD COLUMN refund_no TEXT;
ALTER TABLE payments ADD COLUMN refund_state TEXT;
ALTER TABLE payments ADD COLUMN refund_updated_at BIGINT;

-- ── 20261121000005_refunds_complaints.sql ──
-- Refund requests with their timeline, complaints with their conversation, the files learners
-- attach to either, and the site messages that tell learners what happened.
ALTER TABLE orders ADD COLUMN refunded_fen BIGINT NOT NULL DEFAULT 0;

CREATE TABLE refund_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Shown to the learner and sent to the provider as out_refund_no on every try.
    refund_no TEXT NOT NULL UNIQUE,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'refunding', 'refunded', 'rejected', 'withdrawn', 'failed')),
    reason_code TEXT NOT NULL,
    reason_text TEXT NOT NULL,
    -- The learner asked although the policy said no.
    exception BIGINT NOT NULL DEFAULT 0,
    -- What the policy engine said when the request was made.
    policy_eligible BIGINT NOT NULL,
    policy_amount_fen BIGINT NOT NULL,
    policy_rule_zh TEXT NOT NULL,
    policy_rule_en TEXT NOT NULL,
    consumed_pct BIGINT NOT NULL,
    -- The amount approved (by staff or automatically).
    amount_fen BIGINT,
    staff_note TEXT,
    reject_reason TEXT,
    decided_by BIGINT REFERENCES users (id),
    auto_approved BIGINT NOT NULL DEFAULT 0,
    provider TEXT,
    -- NULL until the provider has answered; then processing, succeeded or failed.
    provider_state TEXT,
    provider_message TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    decided_at BIGINT,
    completed_at BIGINT
);
-- One open request per order: a double submit creates one request.
CREATE UNIQUE INDEX refund_requests_one_open ON refund_requests (order_id) WHERE status IN ('pending', 'refunding', 'failed');
CREATE INDEX refund_requests_status ON refund_requests (status, created_at);
CREATE INDEX refund_requests_user ON refund_requests (user_id, created_at);

CREATE TABLE refund_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    refund_id BIGINT NOT NULL REFERENCES refund_requests (id),
    kind TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    actor TEXT NOT NULL CHECK (actor IN ('learner', 'staff', 'system', 'provider')),
    created_at BIGINT NOT NULL
);
CREATE INDEX refund_events_refund ON refund_events (refund_id, id);

CREATE TABLE complaints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    complaint_no TEXT NOT NULL UNIQUE,
    -- NULL for a platform complaint whose order is not ours to match.
    user_id BIGINT REFERENCES users (id),
    source TEXT NOT NULL CHECK (source IN ('site', 'wechatpay')),
    category TEXT NOT NULL,
    order_id BIGINT REFERENCES orders (id),
    lesson_id BIGINT REFERENCES lessons (id),
    description TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'answered', 'resolved')),
    refund_id BIGINT REFERENCES refund_requests (id),
    -- The platform's complaint id and state (WeChat Pay complaints).
    external_id TEXT UNIQUE,
    external_state TEXT,
    first_reply_due BIGINT NOT NULL,
    first_replied_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    resolved_at BIGINT
);
CREATE INDEX complaints_status ON complaints (status, first_reply_due);
CREATE INDEX complaints_user ON complaints (user_id, created_at);

CREATE TABLE complaint_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    complaint_id BIGINT NOT NULL REFERENCES complaints (id),
    author TEXT NOT NULL CHECK (author IN ('learner', 'staff', 'platform')),
    staff_id BIGINT REFERENCES users (id),
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX complaint_messages_complaint ON complaint_messages (complaint_id, id);

-- Evidence and screenshots, kept under generated names outside the web root.
CREATE TABLE attachments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_kind TEXT NOT NULL CHECK (owner_kind IN ('refund', 'complaint')),
    owner_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id),
    storage_key TEXT NOT NULL UNIQUE,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    file_name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX attachments_owner ON attachments (owner_kind, owner_id);

-- Site messages to one learner (refund results, replies).
CREATE TABLE user_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    -- What happened (refund_refunded, complaint_reply...): the page words it in the reader's language.
    kind TEXT NOT NULL,
    ref_no TEXT NOT NULL DEFAULT '',
    amount_fen BIGINT,
    note TEXT NOT NULL DEFAULT '',
    link TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    read_at BIGINT
);
CREATE INDEX user_messages_user ON user_messages (user_id, id);

-- ── 20261121000006_back_office.sql ──
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

-- ── 20261121000007_continuity.sql ──
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

-- ── 20261129000001_load.sql ──
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

-- ── 20261130000001_hardening.sql ──
-- Reconciliation: when each pending payment is next asked about, and how often it has been.
-- Oldest-due first, backing off, so abandoned payments cannot starve one whose notice was lost.
ALTER TABLE orders ADD COLUMN reconcile_at BIGINT;
ALTER TABLE orders ADD COLUMN reconcile_checks BIGINT NOT NULL DEFAULT 0;
UPDATE orders SET reconcile_at = updated_at + 120 WHERE status = 'pending' AND pay_provider IS NOT NULL;
CREATE INDEX orders_reconcile ON orders (reconcile_at) WHERE status = 'pending';

-- Every failed sign-in (password or staff second factor), known account or not, by address and
-- by network (/24 for IPv4, /64 for IPv6), for the per-address limits.
CREATE TABLE auth_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ip TEXT NOT NULL,
    net TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX auth_failures_ip ON auth_failures (ip, created_at);
CREATE INDEX auth_failures_net ON auth_failures (net, created_at);

-- A learner who deleted their account (个人信息保护法): the row stays, anonymized, because orders
-- and payments must be kept for accounting; this says when.
ALTER TABLE users ADD COLUMN deleted_at BIGINT;

-- ── 20261130000002_sms_outbox.sql ──
-- Every text the shop sends or tried to: notifications wait here, committed with the change they
-- tell about, until the outbox job has sent them; codes, sent at once, are recorded here too.
-- event_key makes one event one text, however often it is enqueued.
CREATE TABLE sms_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    phone TEXT NOT NULL,
    -- The parameters by name (JSON object).
    params TEXT NOT NULL,
    broadcast_id BIGINT REFERENCES sms_broadcasts (id),
    -- queued: waiting; sending: handed to a provider; sent; failed (given up, or refused);
    -- uncertain: the process stopped mid-send, so it is not sent again (never twice).
    status TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'uncertain')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    provider TEXT,
    send_id TEXT,
    error_code TEXT,
    error_message TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX sms_outbox_due ON sms_outbox (next_attempt_at) WHERE status = 'queued';
CREATE INDEX sms_outbox_sending ON sms_outbox (updated_at) WHERE status = 'sending';
CREATE INDEX sms_outbox_broadcast ON sms_outbox (broadcast_id, status);
CREATE INDEX sms_outbox_created ON sms_outbox (created_at, kind, status);
