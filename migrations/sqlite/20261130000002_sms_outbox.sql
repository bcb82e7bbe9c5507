-- Every text the shop sends or tried to: notifications wait here, committed with the change they
-- tell about, until the outbox job has sent them; codes, sent at once, are recorded here too.
-- event_key makes one event one text, however often it is enqueued.
CREATE TABLE sms_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    phone TEXT NOT NULL,
    -- The parameters by name (JSON object).
    params TEXT NOT NULL,
    broadcast_id BIGINT REFERENCES sms_broadcasts (id),
    -- queued: waiting; sending: handed to a provider; sent; failed (given up, or refused);
    -- uncertain: the process stopped mid-send, so it is not sent again (never twice).
    status TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'uncertain')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    provider TEXT,
    send_id TEXT,
    error_code TEXT,
    error_message TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX sms_outbox_due ON sms_outbox (next_attempt_at) WHERE status = 'queued';
CREATE INDEX sms_outbox_sending ON sms_outbox (updated_at) WHERE status = 'sending';
CREATE INDEX sms_outbox_broadcast ON sms_outbox (broadcast_id, status);
CREATE INDEX sms_outbox_created ON sms_outbox (created_at, kind, status);
