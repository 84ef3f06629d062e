-- Bearer tokens of the region's admin API, SQLite flavour. Keep in step with
-- ../postgres/0005_api_tokens.sql. (0004 is the job queue's.)
--
-- Only the SHA-256 of a token is stored: the token itself is shown once, when
-- it is created, and cannot be read back from the database. A token lives in
-- one region's database, so another region's service does not know it.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL,          -- admin | read
    token_hash   TEXT NOT NULL UNIQUE,   -- sha256:<hex>
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
