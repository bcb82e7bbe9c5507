-- Distribution (推广员, #18): who applied and was approved, which distributor a learner followed,
-- the commission on each referred order, and the ledger every balance is summed from.

-- One row per applicant; `code` is the `?ref=` of their links. Status: pending, approved,
-- rejected, frozen (a frozen distributor's links still sell, but earn nothing).
CREATE TABLE distributors (
    user_id BIGINT PRIMARY KEY REFERENCES users (id),
    code TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    real_name TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    reason TEXT NOT NULL,
    decision_note TEXT NOT NULL DEFAULT '',
    decided_by BIGINT REFERENCES users (id),
    applied_at BIGINT NOT NULL,
    decided_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX distributors_status ON distributors (status, applied_at);

-- The distributor a learner is bound to (domain::commission::bind), from `bound_at` for the
-- shop's attribution window.
CREATE TABLE referral_bindings (
    user_id BIGINT PRIMARY KEY REFERENCES users (id),
    distributor_id BIGINT NOT NULL REFERENCES distributors (user_id),
    bound_at BIGINT NOT NULL,
    ip TEXT NOT NULL DEFAULT ''
);
CREATE INDEX referral_bindings_distributor ON referral_bindings (distributor_id);

-- A course's own commission rate in basis points; NULL: the shop's default.
ALTER TABLE courses ADD COLUMN commission_bp BIGINT;

-- The commission on one referred order: pending until `settles_at` (the end of the refund
-- window), then settled once.
CREATE TABLE commissions (
    order_id BIGINT PRIMARY KEY REFERENCES orders (id),
    distributor_id BIGINT NOT NULL REFERENCES distributors (user_id),
    buyer_id BIGINT NOT NULL REFERENCES users (id),
    rate_bp BIGINT NOT NULL,
    base_fen BIGINT NOT NULL,
    amount_fen BIGINT NOT NULL,
    state TEXT NOT NULL,
    settles_at BIGINT NOT NULL,
    buyer_ip TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    settled_at BIGINT
);
CREATE INDEX commissions_due ON commissions (state, settles_at);
CREATE INDEX commissions_distributor ON commissions (distributor_id, created_at);

-- Every movement of a distributor's money, never edited: earned (pending), settled (pending to
-- available), reversed (by a refund, from pending or, when `settled` is 1, from available) and
-- paid_out. `event_key` makes each movement happen once: earned:<order>, settled:<order>,
-- reversed:<refund>, paid_out:<payout>.
CREATE TABLE commission_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    distributor_id BIGINT NOT NULL REFERENCES distributors (user_id),
    order_id BIGINT REFERENCES orders (id),
    kind TEXT NOT NULL,
    amount_fen BIGINT NOT NULL CHECK (amount_fen >= 0),
    settled BIGINT NOT NULL DEFAULT 0,
    event_key TEXT NOT NULL UNIQUE,
    note TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX commission_entries_distributor ON commission_entries (distributor_id, id);

-- Withdrawals of settled commission (orders not paid by WeChat Pay's profit sharing): requested
-- by the distributor, paid out by staff with the transfer's reference (a paid_out ledger entry
-- then), or rejected with a reason. Status: requested, paid, rejected.
CREATE TABLE payouts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    distributor_id BIGINT NOT NULL REFERENCES distributors (user_id),
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    status TEXT NOT NULL,
    account TEXT NOT NULL,
    reference TEXT NOT NULL DEFAULT '',
    staff_note TEXT NOT NULL DEFAULT '',
    decided_by BIGINT REFERENCES users (id),
    requested_at BIGINT NOT NULL,
    decided_at BIGINT
);
CREATE INDEX payouts_status ON payouts (status, requested_at);
CREATE INDEX payouts_distributor ON payouts (distributor_id, requested_at);

-- WeChat Pay profit sharing (分账): a WeChat payment of a referred buyer is made with
-- `settle_info.profit_sharing`, which holds its funds until the shop splits or releases them.
ALTER TABLE orders ADD COLUMN profit_sharing BIGINT NOT NULL DEFAULT 0;

-- One split (the commission to the distributor's WeChat) or release (解冻, nothing to share) per
-- such order, under an out_order_no that every retry reuses. State: requested, finished, failed.
CREATE TABLE profit_splits (
    order_id BIGINT PRIMARY KEY REFERENCES orders (id),
    out_order_no TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    distributor_id BIGINT REFERENCES distributors (user_id),
    receiver TEXT NOT NULL DEFAULT '',
    amount_fen BIGINT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX profit_splits_state ON profit_splits (state, updated_at);
