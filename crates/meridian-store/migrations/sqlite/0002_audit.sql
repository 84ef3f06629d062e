-- Audit log support, SQLite flavour. Keep in step with ../postgres/0002_audit.sql.
-- `audit_log` itself is in 0001; the hashing and signing live in the audit crate.

-- One row, updated first in every append transaction: the row lock (PostgreSQL)
-- or the write lock (SQLite) it takes serialises appenders, so that two
-- replicas never append two records with the same predecessor.
CREATE TABLE audit_writer (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    appends INTEGER NOT NULL
);
INSERT INTO audit_writer (id, appends) VALUES (1, 0);

-- Signed checkpoints over the chain head: `body` is the canonical JSON that
-- `signature` (Ed25519, hex) signs; `number`, `seq` and `at` repeat fields of
-- the body for ordering and look-ups.
CREATE TABLE audit_checkpoints (
    number    INTEGER PRIMARY KEY,
    seq       INTEGER NOT NULL,
    at        INTEGER NOT NULL,
    body      TEXT NOT NULL,
    signature TEXT NOT NULL
);

-- The report reads records by time.
CREATE INDEX audit_log_at ON audit_log (at);
