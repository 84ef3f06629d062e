-- Who says an insight's quote, SQLite flavour. Keep in step with
-- ../postgres/0006_insight_speaker.sql.
--
-- The name as the transcript gives it (a VTT voice, a `Speaker:` label); NULL
-- when the transcript names no speaker there, and for insights stored before
-- this column existed. The digest shows it beside the quote.
ALTER TABLE insights ADD COLUMN speaker TEXT;
