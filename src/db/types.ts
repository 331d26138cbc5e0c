// Table types for kysely, one property per table, keyed by its schema-qualified name
// as kysely sees it, e.g. `'chain.checkpoints': CheckpointsTable`. Each later
// migration that adds a table adds its property here.
//
// Schemas: `chain` is written by the indexer only, `app` by the write path only
// (see migrations/0001_schemas.sql). Amounts are numeric(78,0) in SQL and come back
// as decimal strings (see createDatabase), never JS numbers.

// No tables exist yet; an interface (not a type alias) so tables are added as properties.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Database {}
