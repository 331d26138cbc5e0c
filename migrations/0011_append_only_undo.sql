-- payments and token_transfers are append-only and carry their block number: a reorg deletes their
-- rows above the common ancestor with one statement each, so their inserts are no longer journaled
-- row by row. On busy blocks those entries were nine in ten of the journal: undoing ten blocks of a
-- million-event chain (20,306 entries, each replayed as its own dynamic statement) took 2.3 s, and
-- every unfinalized block wrote a JSON copy of each of its payments.
DROP TRIGGER journal_insert ON chain.payments;
DROP TRIGGER journal_insert ON chain.token_transfers;

-- As in 0002, plus the append-only tables' rows after p_block, deleted first (nothing refers to them).
-- Returns the number of row changes undone, those deleted rows included.
CREATE OR REPLACE FUNCTION chain.undo_to(p_chain_id integer, p_block bigint) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  entry record;
  target regclass;
  key_match text;
  assignments text;
  undone integer := 0;
  deleted integer;
BEGIN
  DELETE FROM chain.payments WHERE chain_id = p_chain_id AND block_number > p_block;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  undone := undone + deleted;
  DELETE FROM chain.token_transfers WHERE chain_id = p_chain_id AND block_number > p_block;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  undone := undone + deleted;
  FOR entry IN
    SELECT * FROM chain.undo_log WHERE chain_id = p_chain_id AND block_number > p_block ORDER BY id DESC
  LOOP
    target := format('chain.%I', entry.table_name)::regclass;
    SELECT string_agg(format('t.%1$I = r.%1$I', a.attname), ' AND ')
      INTO key_match
      FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
      WHERE i.indrelid = target AND i.indisprimary;
    IF entry.operation = 'I' THEN
      EXECUTE format('DELETE FROM %s t USING jsonb_populate_record(null::%s, $1) r WHERE %s', target, target, key_match)
        USING entry.row_data;
    ELSIF entry.operation = 'U' THEN
      SELECT string_agg(format('%1$I = r.%1$I', a.attname), ', ')
        INTO assignments
        FROM pg_attribute a WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped;
      EXECUTE format('UPDATE %s t SET %s FROM jsonb_populate_record(null::%s, $1) r WHERE %s', target, assignments, target, key_match)
        USING entry.row_data;
    ELSE
      EXECUTE format('INSERT INTO %s SELECT * FROM jsonb_populate_record(null::%s, $1)', target, target)
        USING entry.row_data;
    END IF;
    undone := undone + 1;
  END LOOP;
  DELETE FROM chain.undo_log WHERE chain_id = p_chain_id AND block_number > p_block;
  RETURN undone;
END
$$;
