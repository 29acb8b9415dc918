-- Inbox payloads (every Stripe event, 2-6 kB of JSON) are compressed with lz4 instead of the default pglz,
-- which was the largest single item of PostgreSQL's CPU under webhook load (docs/benchmarks.md). Only
-- where the server has lz4 (PostgreSQL 14+ built with it; PGlite is not): elsewhere nothing changes.
-- Rows already stored keep their compression; new ones use lz4.
DO $$
BEGIN
  IF EXISTS (
    SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)
  ) THEN
    EXECUTE 'ALTER TABLE stripe_events ALTER COLUMN payload SET COMPRESSION lz4';
  END IF;
END $$;
