-- payments and token_transfers are append-only and carry their block number: a reorg deletes their
-- rows above the common ancestor with one statement each (rollbackTo), so their inserts are no longer
-- journaled row by row. On busy blocks those entries were nine in ten of the journal: undoing ten
-- blocks of a million-event chain (20,306 entries, each replayed as its own dynamic statement) took
-- 2.3 s, and every unfinalized block wrote a JSON copy of each of its payments.
DROP TRIGGER journal_insert ON chain.payments;
DROP TRIGGER journal_insert ON chain.token_transfers;
