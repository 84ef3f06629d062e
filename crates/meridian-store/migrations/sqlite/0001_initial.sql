-- Meridian region store, SQLite flavour. Keep in step with ../postgres/0001_initial.sql:
-- same tables, columns and meaning; only types and identity syntax differ.
-- Times are Unix seconds (UTC); dates are ISO `YYYY-MM-DD` in the region's timezone.

CREATE TABLE region_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE feeds (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    url               TEXT NOT NULL UNIQUE,
    title             TEXT,
    source            TEXT NOT NULL,
    added_at          INTEGER NOT NULL,
    etag              TEXT,
    last_modified     TEXT,
    last_fetched_at   INTEGER,
    next_check_at     INTEGER NOT NULL DEFAULT 0,
    failure_count     INTEGER NOT NULL DEFAULT 0,
    last_failure_kind TEXT,
    last_error        TEXT,
    disabled          INTEGER NOT NULL DEFAULT 0,
    blocked           INTEGER NOT NULL DEFAULT 0,
    fetch_count       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE episodes (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    feed_id          INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    guid             TEXT NOT NULL,
    guid_source      TEXT NOT NULL,
    title            TEXT NOT NULL,
    published_at     INTEGER,
    link             TEXT,
    enclosure_url    TEXT,
    language         TEXT,
    meta_json        TEXT NOT NULL,
    first_seen_at    INTEGER NOT NULL,
    -- new → transcribed → extracted; archived = seen but too old to be news;
    -- parked = no usable model now, resumed by the next run.
    status           TEXT NOT NULL,
    status_detail    TEXT,
    UNIQUE (feed_id, guid)
);
CREATE INDEX episodes_status ON episodes (status);

CREATE TABLE transcripts (
    episode_id    INTEGER PRIMARY KEY REFERENCES episodes (id) ON DELETE CASCADE,
    content_hash  TEXT NOT NULL,
    source        TEXT NOT NULL,
    language      TEXT,
    segments_json TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

-- Content-addressed cache: a transcript already turned into insights costs no model call again.
CREATE TABLE extractions (
    content_hash  TEXT PRIMARY KEY,
    model         TEXT NOT NULL,
    insights_json TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE insights (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    episode_id   INTEGER NOT NULL REFERENCES episodes (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    model        TEXT NOT NULL,
    text         TEXT NOT NULL,
    quote        TEXT NOT NULL,
    start_secs   REAL,
    importance   REAL NOT NULL,
    why          TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (episode_id, position)
);

CREATE TABLE model_calls (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            INTEGER NOT NULL,
    role          TEXT NOT NULL,
    model         TEXT NOT NULL,
    provider      TEXT NOT NULL,
    hosted_in     TEXT NOT NULL,
    content_hash  TEXT,
    input_tokens  INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    latency_ms    INTEGER NOT NULL,
    outcome       TEXT NOT NULL,
    detail        TEXT
);

CREATE TABLE digests (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    digest_date  TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    digest_json  TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);

-- Which episodes a digest featured, so they are not news the next day.
CREATE TABLE digest_episodes (
    digest_id  INTEGER NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
    episode_id INTEGER NOT NULL REFERENCES episodes (id) ON DELETE CASCADE,
    PRIMARY KEY (digest_id, episode_id)
);

CREATE TABLE subscribers (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL,
    locale          TEXT,
    source          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    confirmed_at    INTEGER,
    unsubscribed_at INTEGER
);

-- One row per (digest, subscriber): the idempotency key of a digest email.
CREATE TABLE deliveries (
    digest_id     INTEGER NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    message_id    TEXT NOT NULL,
    status        TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    transport     TEXT,
    claimed_at    INTEGER NOT NULL,
    sent_at       INTEGER,
    PRIMARY KEY (digest_id, subscriber_id)
);

-- Hash-chained audit log (filled by the audit crate).
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    record     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_date    TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    status      TEXT NOT NULL,
    summary     TEXT
);
