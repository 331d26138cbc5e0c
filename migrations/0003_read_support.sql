-- What the read API needs from the indexer: hourly aggregates (an exact "last 24 hours"
-- without scanning payments), indexes for its sorted lists (keyset pagination), and the
-- indexer's status persisted for a read API running in another process.

-- Hourly aggregates (UTC hours), filled exactly like their daily counterparts.
CREATE TABLE chain.creator_revenue_hourly (
  chain_id   integer     NOT NULL,
  creator_id bigint      NOT NULL,
  hour       timestamptz NOT NULL,
  revenue    numeric(78,0) NOT NULL,
  calls      bigint      NOT NULL,
  PRIMARY KEY (chain_id, creator_id, hour)
);
CREATE INDEX creator_revenue_hourly_hour ON chain.creator_revenue_hourly (chain_id, hour);

CREATE TABLE chain.product_stats_hourly (
  chain_id integer     NOT NULL,
  product  text        NOT NULL,
  hour     timestamptz NOT NULL,
  revenue  numeric(78,0) NOT NULL,
  calls    bigint      NOT NULL,
  PRIMARY KEY (chain_id, product, hour)
);
CREATE INDEX product_stats_hourly_hour ON chain.product_stats_hourly (chain_id, hour);

-- Market volume and calls per hour: the home page's "last 24 hours" without scanning payments.
CREATE TABLE chain.market_hourly (
  chain_id integer     NOT NULL,
  hour     timestamptz NOT NULL,
  volume   numeric(78,0) NOT NULL,
  calls    bigint      NOT NULL,
  PRIMARY KEY (chain_id, hour)
);

-- Journaled like every other derived table, so a reorg rolls them back too (see 0002).
DO $$
DECLARE
  journaled text;
BEGIN
  FOREACH journaled IN ARRAY ARRAY['creator_revenue_hourly', 'product_stats_hourly', 'market_hourly'] LOOP
    EXECUTE format('CREATE TRIGGER journal_insert AFTER INSERT ON chain.%I REFERENCING NEW TABLE AS new_rows '
      || 'FOR EACH STATEMENT EXECUTE FUNCTION chain.journal_changes()', journaled);
    EXECUTE format('CREATE TRIGGER journal_update AFTER UPDATE ON chain.%I REFERENCING OLD TABLE AS old_rows '
      || 'FOR EACH STATEMENT EXECUTE FUNCTION chain.journal_changes()', journaled);
    EXECUTE format('CREATE TRIGGER journal_delete AFTER DELETE ON chain.%I REFERENCING OLD TABLE AS old_rows '
      || 'FOR EACH STATEMENT EXECUTE FUNCTION chain.journal_changes()', journaled);
  END LOOP;
END
$$;

-- 7-day and 30-day leaderboards scan the daily aggregates by day.
CREATE INDEX creator_revenue_daily_day ON chain.creator_revenue_daily (chain_id, day);
CREATE INDEX product_stats_daily_day ON chain.product_stats_daily (chain_id, day);

-- Sorted lists of the read API, paged by keyset (the last key is the tie-breaker).
CREATE INDEX products_by_revenue ON chain.products (chain_id, revenue DESC, address);
CREATE INDEX products_by_calls ON chain.products (chain_id, calls DESC, address);
CREATE INDEX products_by_price ON chain.products (chain_id, price, address);
CREATE INDEX creators_by_revenue ON chain.creators (chain_id, revenue DESC, token_id);
CREATE INDEX creators_by_calls ON chain.creators (chain_id, calls DESC, token_id);

-- The indexer's status, written by the leading indexer of a chain (on each role change, else
-- at most once a second, and when it stops), read by the read API. Bookkeeping: not journaled.
CREATE TABLE chain.indexer_status (
  chain_id          integer PRIMARY KEY,
  role              text    NOT NULL,
  head_block        bigint,
  indexed_block     bigint,
  finalized_block   bigint,
  events_per_second integer NOT NULL DEFAULT 0,
  rpc_healthy       boolean NOT NULL,
  ready             boolean NOT NULL,
  error             text,
  updated_at        timestamptz NOT NULL DEFAULT now()
);
