-- A sign-in code belongs to the browser that asked for it (a keyed hash of its session token):
-- only that browser can use it or burn it with wrong guesses. Older codes belong to nobody.
ALTER TABLE sms_codes ADD COLUMN requester TEXT NOT NULL DEFAULT '';
CREATE INDEX sms_codes_requester ON sms_codes (phone, purpose, requester, id);
