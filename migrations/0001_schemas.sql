-- The two schemas of the read/write split. One writer per table:
--   chain: chain-derived tables, written by the indexer only;
--   app:   application tables, written by the write path (gateway) only.
-- The read API writes neither. kysely's migration bookkeeping also lives in `app`.
CREATE SCHEMA IF NOT EXISTS chain;
CREATE SCHEMA IF NOT EXISTS app;

COMMENT ON SCHEMA chain IS
  'Chain-derived data (logs, blocks, organizations, products, payments, aggregates). Written by the indexer only; everyone else reads.';
COMMENT ON SCHEMA app IS
  'Application data (accounts, sessions, API keys, projects, ledger, tx outbox). Written by the write path (gateway) only; the read API reads.';
