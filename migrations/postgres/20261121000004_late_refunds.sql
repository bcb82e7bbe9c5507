-- Payments that arrived for closed orders are refunded automatically; the refund number is
-- fixed once and reused on every retry.
ALTER TABLE payments ADD COLUMN refund_no TEXT;
ALTER TABLE payments ADD COLUMN refund_state TEXT;
ALTER TABLE payments ADD COLUMN refund_updated_at BIGINT;
