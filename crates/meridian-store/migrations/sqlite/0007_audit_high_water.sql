-- The audit writer's high-water mark, SQLite flavour. Keep in step with
-- ../postgres/0009_audit_high_water.sql.
--
-- `head_seq` is the sequence number of the last record ever appended, set in
-- the same transaction as the append. Records are never deleted by Meridian
-- (retention deletes transcripts and insights, not audit records), so a chain
-- whose head is below this mark lost records from its end: `audit verify`
-- reports it as truncated even when the checkpoints covering those records
-- were deleted with them. Existing chains start at their current head.
ALTER TABLE audit_writer ADD COLUMN head_seq INTEGER NOT NULL DEFAULT 0;
UPDATE audit_writer SET head_seq = (SELECT COALESCE(MAX(seq), 0) FROM audit_log) WHERE id = 1;
