-- Redeem codes (兑换码 / 激活码): sold outside the shop (Taobao, Douyin, offline events), each
-- opens one course once. A batch's codes are derived from the shop's key (HMAC of batch and
-- number), so only their SHA-256 is stored and the export derives them again.
CREATE TABLE redeem_batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    course_id BIGINT NOT NULL REFERENCES courses (id),
    channel TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    valid_from BIGINT NOT NULL,
    valid_until BIGINT NOT NULL,
    -- The hash of code number 0 when the batch was made: an export checks the key still derives it.
    key_check TEXT NOT NULL,
    disabled_at BIGINT,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL
);

CREATE TABLE redeem_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id BIGINT NOT NULL REFERENCES redeem_batches (id),
    seq BIGINT NOT NULL,
    code_hash TEXT NOT NULL UNIQUE,
    disabled_at BIGINT,
    redeemed_by BIGINT REFERENCES users (id),
    redeemed_at BIGINT,
    order_id BIGINT REFERENCES orders (id),
    UNIQUE (batch_id, seq)
);
CREATE INDEX redeem_codes_redeemed ON redeem_codes (batch_id, redeemed_at);

-- Codes that were not codes, per account and address: the guessing limit and its count.
CREATE TABLE redeem_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    ip TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX redeem_failures_user ON redeem_failures (user_id, created_at);
CREATE INDEX redeem_failures_ip ON redeem_failures (ip, created_at);
CREATE INDEX redeem_failures_at ON redeem_failures (created_at);
