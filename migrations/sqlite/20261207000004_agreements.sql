-- Versioned agreements (#32): the user agreement and the purchase agreement, Markdown, each
-- version kept as published. Who accepted which version, when, from where, and for which order
-- (the purchase agreement is accepted by paying).
CREATE TABLE agreements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('user', 'purchase')),
    version BIGINT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    published_by BIGINT REFERENCES users (id),
    published_at BIGINT NOT NULL,
    UNIQUE (kind, version)
);

CREATE TABLE agreement_acceptances (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    agreement_id BIGINT NOT NULL REFERENCES agreements (id),
    order_id BIGINT REFERENCES orders (id),
    ip TEXT NOT NULL,
    accepted_at BIGINT NOT NULL
);
CREATE INDEX agreement_acceptances_user ON agreement_acceptances (user_id, agreement_id);
CREATE UNIQUE INDEX agreement_acceptances_order ON agreement_acceptances (order_id, agreement_id)
    WHERE order_id IS NOT NULL;

-- The user agreement version this account last accepted (0: none): pages ask again when a newer
-- one is published, without a query.
ALTER TABLE users ADD COLUMN agreed_version BIGINT NOT NULL DEFAULT 0;
