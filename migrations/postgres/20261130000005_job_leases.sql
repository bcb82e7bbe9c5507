-- One holder per background job across instances: the holder renews its lease each run, and a
-- lease that was not renewed in time (its holder stopped) can be taken by another instance.
CREATE TABLE job_leases (
    job TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
