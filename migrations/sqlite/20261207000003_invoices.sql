-- 发票 requests: one per order, for what was paid less what was refunded when asked. Staff issue
-- the invoice in their tax system, then attach its PDF (kept in the private uploads store) or
-- enter the 数电票 number; the learner downloads it from the order.
CREATE TABLE invoice_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id BIGINT NOT NULL UNIQUE REFERENCES orders (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    title_kind TEXT NOT NULL CHECK (title_kind IN ('personal', 'company')),
    title TEXT NOT NULL,
    tax_number TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL,
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    status TEXT NOT NULL CHECK (status IN ('requested', 'issued')),
    invoice_number TEXT NOT NULL DEFAULT '',
    file_key TEXT,
    file_name TEXT,
    file_size BIGINT,
    issued_by BIGINT REFERENCES users (id),
    issued_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX invoice_requests_status ON invoice_requests (status, created_at);
CREATE INDEX invoice_requests_user ON invoice_requests (user_id);
