-- A line is charged or released by id. The unsettled index's old predicate ("status = 'reserved'
-- OR …") was implied by those statements' own "status = 'reserved'", so the planner could take
-- it for them, and a plan made while the ledger was small (a prepared statement's generic plan)
-- then scanned every unsettled line to find one. The same set of lines, described by a predicate
-- that a lookup by id and status does not imply, leaves those statements the primary key; the
-- queries that want the unsettled lines say "settled_at IS NULL" and use it as before.
DROP INDEX app.usage_ledger_unsettled;
CREATE INDEX usage_ledger_unsettled ON app.usage_ledger (chain_id, organization) WHERE settled_at IS NULL AND status <> 'released';
