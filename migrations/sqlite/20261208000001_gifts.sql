-- Gifts (送给朋友): an order paid by its buyer for friends. It carries how many copies it
-- buys and the name the buyer signs with; it gives the buyer nothing to learn. Each copy is a
-- link whose code is derived from the shop's key (HMAC of order and number), so only its
-- SHA-256 is stored. A friend who claims a copy gets their own order of amount 0.
ALTER TABLE orders ADD COLUMN gift_copies BIGINT NOT NULL DEFAULT 0 CHECK (gift_copies >= 0);
ALTER TABLE orders ADD COLUMN gift_sender TEXT NOT NULL DEFAULT '';

-- One pending order per buyer and course for themselves, and one as a gift.
DROP INDEX orders_one_pending;
CREATE UNIQUE INDEX orders_one_pending ON orders (user_id, course_id, (gift_copies > 0)) WHERE status = 'pending';

CREATE TABLE gifts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    seq BIGINT NOT NULL,
    code_hash TEXT NOT NULL UNIQUE,
    claimed_by BIGINT REFERENCES users (id),
    claimed_at BIGINT,
    -- The friend's own order of amount 0.
    claim_order_id BIGINT REFERENCES orders (id),
    -- Taken back by the buyer's refund request (and given back if it is rejected or withdrawn).
    withdrawn_at BIGINT,
    refund_id BIGINT REFERENCES refund_requests (id),
    UNIQUE (order_id, seq)
);
CREATE INDEX gifts_claim_order ON gifts (claim_order_id);
CREATE INDEX gifts_refund ON gifts (refund_id);
