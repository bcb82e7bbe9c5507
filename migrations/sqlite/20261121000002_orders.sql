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
