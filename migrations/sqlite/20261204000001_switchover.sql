-- The switchover (#28): the mini program's back end keeps the shop in step through the sync API,
-- and buyers nobody can reach claim their orders by receipt.

-- Keys a back end signs sync requests with (HMAC-SHA256). Several at once, so one can be
-- rotated in before the old one is revoked.
CREATE TABLE sync_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id TEXT NOT NULL UNIQUE,
    secret TEXT NOT NULL,
    label TEXT NOT NULL,
    created_by BIGINT REFERENCES users (id),
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);

-- Nonces seen in the last minutes: a request signed once is accepted once.
CREATE TABLE sync_nonces (
    key_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX sync_nonces_seen ON sync_nonces (seen_at);

-- The newest event applied to each record (in milliseconds): an older one never overwrites it,
-- and an import run again leaves what sync wrote alone.
CREATE TABLE sync_versions (
    record_key TEXT PRIMARY KEY,
    event_at BIGINT NOT NULL
);

-- Every batch received, for the back office's last event, lag and counts per day.
CREATE TABLE sync_batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    records BIGINT NOT NULL,
    applied BIGINT NOT NULL,
    skipped BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    newest_event_at BIGINT
);
CREATE INDEX sync_batches_received ON sync_batches (received_at);

-- An imported order moved to the learner who showed its receipt number; undone by staff.
CREATE TABLE receipt_claims (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    from_user_id BIGINT NOT NULL REFERENCES users (id),
    order_id BIGINT NOT NULL REFERENCES orders (id),
    matched_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    undone_at BIGINT,
    undone_by BIGINT REFERENCES users (id)
);
CREATE INDEX receipt_claims_order ON receipt_claims (order_id);
CREATE INDEX orders_provider_txn ON orders (provider_txn_id);

-- Receipt numbers tried, for the per-account and per-address limits on guessing.
CREATE TABLE claim_attempts (
    user_id BIGINT NOT NULL REFERENCES users (id),
    ip TEXT NOT NULL,
    found BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX claim_attempts_user ON claim_attempts (user_id, created_at);
CREATE INDEX claim_attempts_ip ON claim_attempts (ip, created_at);

-- A WeChat-only sign-in asks once for a phone number; the asking is remembered, answered or not.
CREATE TABLE phone_prompts (
    user_id BIGINT PRIMARY KEY REFERENCES users (id),
    asked_at BIGINT NOT NULL
);

-- A WeChat-only account folded into the phone's account when the learner bound that phone.
CREATE TABLE account_merges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    from_user_id BIGINT NOT NULL REFERENCES users (id),
    into_user_id BIGINT NOT NULL REFERENCES users (id),
    -- Rows moved per table (JSON object).
    moved TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The official account's followers, as user/get and user/info last told: who a template
-- message can reach.
CREATE TABLE oa_followers (
    openid TEXT PRIMARY KEY,
    unionid TEXT,
    fetched_at BIGINT NOT NULL
);
CREATE INDEX oa_followers_unionid ON oa_followers (unionid);

-- Template messages through the official account, sent by the outbox job: once per event and
-- follower, retried, and failures listed for staff.
CREATE TABLE wechat_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_key TEXT NOT NULL,
    openid TEXT NOT NULL,
    user_id BIGINT REFERENCES users (id),
    template_id TEXT NOT NULL,
    -- The template's fields and the link (JSON object).
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'uncertain')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    msg_id TEXT,
    error_code TEXT,
    error_message TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    sent_at BIGINT,
    UNIQUE (event_key, openid)
);
CREATE INDEX wechat_outbox_due ON wechat_outbox (next_attempt_at) WHERE status = 'queued';
