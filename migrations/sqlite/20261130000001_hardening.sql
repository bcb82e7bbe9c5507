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
