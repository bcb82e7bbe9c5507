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
