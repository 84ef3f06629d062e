-- Subscriptions and delivery robustness, SQLite flavour. Keep in step with
-- ../postgres/0003_delivery.sql.

-- A relay answered an email to this address with a permanent (5xx) error: the
-- address is `suppressed` (a status value) and gets nothing more until it is
-- confirmed again through a fresh double opt-in.
ALTER TABLE subscribers ADD COLUMN suppressed_at INTEGER;
ALTER TABLE subscribers ADD COLUMN suppression_reason TEXT;

-- A delivery that failed temporarily is not tried again before this time
-- (back-off across runs). NULL: whenever the next run comes.
ALTER TABLE deliveries ADD COLUMN next_attempt_at INTEGER;

-- Confirmation emails (double opt-in) waiting to be sent, sent or given up:
-- a durable queue, so that the HTTP request that asked for one answers at
-- once and the same way whether or not the address is known, and a crash
-- loses no request.
CREATE TABLE confirmation_emails (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    subscriber_id   INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    requested_at    INTEGER NOT NULL,
    status          TEXT NOT NULL,   -- pending | sent | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    sent_at         INTEGER
);
CREATE INDEX confirmation_emails_due ON confirmation_emails (status, next_attempt_at);
CREATE INDEX confirmation_emails_subscriber ON confirmation_emails (subscriber_id, requested_at);
