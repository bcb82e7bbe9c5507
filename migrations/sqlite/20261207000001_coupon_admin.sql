-- Coupons made by staff in the back office: a name staff see (buyers see only the code), limited
-- to buyers who never paid an order, and switched off without deleting what was redeemed.
ALTER TABLE coupons ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE coupons ADD COLUMN new_buyers_only BIGINT NOT NULL DEFAULT 0;
ALTER TABLE coupons ADD COLUMN disabled_at BIGINT;
ALTER TABLE coupons ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
