-- Secondary indexes of the append-only tables that a backfill into an empty database dropped, to
-- build them once at its end rather than row by row during it. Written in the transaction that
-- drops them, so that a crash at any point leaves them to be built when the indexer next starts.
CREATE TABLE chain.deferred_indexes (
  name       text PRIMARY KEY,
  -- As pg_indexes.indexdef gives it.
  definition text NOT NULL
);
