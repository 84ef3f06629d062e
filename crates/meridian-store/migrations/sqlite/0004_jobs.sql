-- The run's work as a queue, SQLite flavour. Keep in step with ../postgres/0004_jobs.sql.
-- Times are Unix seconds (UTC).

-- One row per unit of work (a feed check, an episode's transcript and
-- insights, a digest, a delivery), unique by (kind, job_key) so that
-- enqueueing twice is harmless. A worker claims a job by setting it
-- `running` with a lease; a job whose lease ran out (its worker died) is
-- claimed again. `queued` jobs wait for `run_after`; after `max_attempts`
-- failed or abandoned tries a job is `dead`.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    job_key      TEXT NOT NULL,
    run_id       INTEGER REFERENCES runs (id) ON DELETE CASCADE,
    payload      TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,   -- queued | running | done | dead
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_after    INTEGER NOT NULL,
    lease_until  INTEGER,
    worker       TEXT,
    last_error   TEXT,
    result       TEXT,
    created_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    UNIQUE (kind, job_key)
);
-- Claims walk one status in id order (FIFO) from the first claimable row,
-- instead of past every finished job of earlier runs.
CREATE INDEX jobs_claimable ON jobs (status, id);
CREATE INDEX jobs_run ON jobs (run_id, status);

-- A run moves through stages (start → feeds → episodes → digest → deliver →
-- done); whoever moves it on does so with a conditional UPDATE on `stage`, so
-- that of several workers exactly one wins and enqueues the next stage's jobs.
ALTER TABLE runs ADD COLUMN stage TEXT NOT NULL DEFAULT 'done';
ALTER TABLE runs ADD COLUMN force_refresh INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN import_opml INTEGER NOT NULL DEFAULT 1;
-- At most one unfinished run per day: a second `meridian run` joins it.
CREATE UNIQUE INDEX runs_one_open_per_date ON runs (run_date) WHERE finished_at IS NULL;

-- A delivery's claim is held until this time while its email is being sent
-- (before, the claim borrowed `next_attempt_at`); kept apart from the retry
-- time so that a worker taking over a dead worker's delivery job can release
-- the claims it left without touching retry back-off.
ALTER TABLE deliveries ADD COLUMN lease_until INTEGER;
