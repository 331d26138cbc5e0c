-- Charges or releases reserved usage lines by id, for the gateway's billing statement, which
-- prepares it once per connection. A function only so that its plan can forbid sequential scans:
-- a plan made while the ledger was small (a prepared statement's generic plan) kept scanning all
-- of it on every call once it had grown, until the next ANALYZE. With seqscan off a lookup by id
-- is always the primary key, whatever the statistics say. Output columns are named apart from
-- the table's, which PL/pgSQL would otherwise find ambiguous.
CREATE FUNCTION app.close_usage_lines(
  p_ids bigint[], p_statuses text[], p_prompt_tokens int[], p_completion_tokens int[], p_total_tokens int[], p_payloads text[], p_at timestamptz
) RETURNS TABLE (line_id bigint, line_organization text, line_amount numeric, line_status text, line_payload text)
LANGUAGE plpgsql VOLATILE SET enable_seqscan = off AS $$
BEGIN
  IF cardinality(p_ids) = 0 THEN
    RETURN;
  END IF;
  RETURN QUERY
    UPDATE app.usage_ledger l SET status = r.status, updated_at = p_at,
      prompt_tokens = coalesce(r.prompt_tokens, l.prompt_tokens),
      completion_tokens = coalesce(r.completion_tokens, l.completion_tokens),
      total_tokens = coalesce(r.total_tokens, l.total_tokens)
    FROM unnest(p_ids, p_statuses, p_prompt_tokens, p_completion_tokens, p_total_tokens, p_payloads)
      AS r(id, status, prompt_tokens, completion_tokens, total_tokens, payload)
    WHERE l.id = ANY (p_ids) AND l.id = r.id AND l.status = 'reserved'
    RETURNING l.id, l.organization, l.amount::numeric, r.status, r.payload;
END
$$;
