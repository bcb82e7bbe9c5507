-- A limited-time price (限时价): until sale_ends_at the course sells at price_fen, then the job
-- puts it back to original_price_fen and clears the column. NULL: no end set.
ALTER TABLE courses ADD COLUMN sale_ends_at BIGINT;
