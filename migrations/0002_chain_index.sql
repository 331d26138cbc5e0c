-- The indexer's tables (schema chain; written by the indexer only).
-- Addresses and hashes are lowercase 0x-hex text; amounts are token base units as numeric(78,0);
-- every table is keyed by chain_id first, so several chains can share one database.

-- Where the indexer is: the last block whose events are all applied (and its hash).
CREATE TABLE chain.checkpoints (
  chain_id     integer PRIMARY KEY,
  block_number bigint  NOT NULL,
  block_hash   text,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Recent blocks (the unfinalized window), to detect reorgs from parent hashes.
CREATE TABLE chain.blocks (
  chain_id    integer NOT NULL,
  number      bigint  NOT NULL,
  hash        text    NOT NULL,
  parent_hash text    NOT NULL,
  timestamp   bigint  NOT NULL,
  PRIMARY KEY (chain_id, number)
);

-- Factory children and fixed contracts are known from these tables.
CREATE TABLE chain.organizations (
  chain_id              integer NOT NULL,
  address               text    NOT NULL,
  index                 bigint  NOT NULL,
  owner                 text    NOT NULL,
  name                  text    NOT NULL,
  balance               numeric(78,0) NOT NULL DEFAULT 0,
  deposited             numeric(78,0) NOT NULL DEFAULT 0,
  spent                 numeric(78,0) NOT NULL DEFAULT 0,
  calls                 bigint  NOT NULL DEFAULT 0,
  enabled_product_count integer NOT NULL DEFAULT 0,
  created_block         bigint  NOT NULL,
  created_tx            text    NOT NULL,
  created_at            timestamptz NOT NULL,
  PRIMARY KEY (chain_id, address)
);
CREATE UNIQUE INDEX organizations_index ON chain.organizations (chain_id, index);
CREATE INDEX organizations_owner ON chain.organizations (chain_id, owner);

CREATE TABLE chain.creators (
  chain_id         integer NOT NULL,
  token_id         bigint  NOT NULL,
  address          text    NOT NULL,
  uri              text    NOT NULL,
  revenue          numeric(78,0) NOT NULL DEFAULT 0,
  calls            bigint  NOT NULL DEFAULT 0,
  withdrawn        numeric(78,0) NOT NULL DEFAULT 0,
  claimable        numeric(78,0) NOT NULL DEFAULT 0,
  registered_block bigint  NOT NULL,
  registered_tx    text    NOT NULL,
  registered_at    timestamptz NOT NULL,
  PRIMARY KEY (chain_id, token_id)
);
CREATE UNIQUE INDEX creators_address ON chain.creators (chain_id, address);

CREATE TABLE chain.products (
  chain_id      integer NOT NULL,
  address       text    NOT NULL,
  index         bigint  NOT NULL,
  creator       text    NOT NULL,
  creator_id    bigint  NOT NULL,
  name          text    NOT NULL,
  category      text    NOT NULL,
  uri           text    NOT NULL,
  price         numeric(78,0) NOT NULL,
  enabled_count integer NOT NULL DEFAULT 0,
  calls         bigint  NOT NULL DEFAULT 0,
  revenue       numeric(78,0) NOT NULL DEFAULT 0,
  created_block bigint  NOT NULL,
  created_tx    text    NOT NULL,
  created_at    timestamptz NOT NULL,
  PRIMARY KEY (chain_id, address)
);
CREATE UNIQUE INDEX products_index ON chain.products (chain_id, index);
CREATE INDEX products_creator ON chain.products (chain_id, creator_id);
CREATE INDEX products_category ON chain.products (chain_id, category);

CREATE TABLE chain.product_enablements (
  chain_id      integer NOT NULL,
  organization  text    NOT NULL,
  product       text    NOT NULL,
  enabled       boolean NOT NULL,
  updated_block bigint  NOT NULL,
  PRIMARY KEY (chain_id, organization, product)
);
CREATE INDEX product_enablements_product ON chain.product_enablements (chain_id, product);

-- One row per charge (CreatorPaid), model fee (ModelFeePaid), settlement (UsageSettled),
-- withdrawal (FundsWithdrawn) and deposit (tUSDT transfer into an organization).
CREATE TABLE chain.payments (
  chain_id     integer NOT NULL,
  tx_hash      text    NOT NULL,
  log_index    integer NOT NULL,
  block_number bigint  NOT NULL,
  block_time   timestamptz NOT NULL,
  kind         text    NOT NULL CHECK (kind IN ('charge', 'model_fee', 'settlement', 'withdrawal', 'deposit')),
  organization text,
  creator_id   bigint,
  product      text,
  amount       numeric(78,0) NOT NULL,
  calls        bigint,
  batch_id     text,
  account      text,
  PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX payments_block ON chain.payments (chain_id, block_number, log_index);
CREATE INDEX payments_organization ON chain.payments (chain_id, organization, block_number);
CREATE INDEX payments_creator ON chain.payments (chain_id, creator_id, block_number);
CREATE INDEX payments_product ON chain.payments (chain_id, product, block_number);
-- Block times only grow: a BRIN index answers "the last 24 hours" at almost no cost per insert.
CREATE INDEX payments_time ON chain.payments USING brin (block_time);

CREATE TABLE chain.token_transfers (
  chain_id     integer NOT NULL,
  tx_hash      text    NOT NULL,
  log_index    integer NOT NULL,
  block_number bigint  NOT NULL,
  block_time   timestamptz NOT NULL,
  from_address text    NOT NULL,
  to_address   text    NOT NULL,
  amount       numeric(78,0) NOT NULL,
  PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX token_transfers_from ON chain.token_transfers (chain_id, from_address, block_number);
CREATE INDEX token_transfers_to ON chain.token_transfers (chain_id, to_address, block_number);

CREATE TABLE chain.token_balances (
  chain_id integer NOT NULL,
  address  text    NOT NULL,
  balance  numeric(78,0) NOT NULL,
  PRIMARY KEY (chain_id, address)
);

-- Aggregates for analytics (UTC days).
CREATE TABLE chain.creator_revenue_daily (
  chain_id   integer NOT NULL,
  creator_id bigint  NOT NULL,
  day        date    NOT NULL,
  revenue    numeric(78,0) NOT NULL,
  calls      bigint  NOT NULL,
  PRIMARY KEY (chain_id, creator_id, day)
);
CREATE TABLE chain.product_stats_daily (
  chain_id integer NOT NULL,
  product  text    NOT NULL,
  day      date    NOT NULL,
  revenue  numeric(78,0) NOT NULL,
  calls    bigint  NOT NULL,
  PRIMARY KEY (chain_id, product, day)
);
CREATE TABLE chain.org_spend_daily (
  chain_id     integer NOT NULL,
  organization text    NOT NULL,
  day          date    NOT NULL,
  spent        numeric(78,0) NOT NULL,
  calls        bigint  NOT NULL,
  PRIMARY KEY (chain_id, organization, day)
);
CREATE TABLE chain.market_daily (
  chain_id integer NOT NULL,
  day      date    NOT NULL,
  volume   numeric(78,0) NOT NULL,
  calls    bigint  NOT NULL,
  PRIMARY KEY (chain_id, day)
);
CREATE TABLE chain.market_totals (
  chain_id      integer PRIMARY KEY,
  organizations bigint NOT NULL DEFAULT 0,
  creators      bigint NOT NULL DEFAULT 0,
  products      bigint NOT NULL DEFAULT 0,
  calls         bigint NOT NULL DEFAULT 0,
  volume        numeric(78,0) NOT NULL DEFAULT 0
);

-- Undo journal for the unfinalized window: the triggers below record, for every row a block
-- changes, how to undo it (the old row, or the inserted row, whose key is enough). The indexer turns the
-- journal on only for unfinalized blocks (SET LOCAL haithe.journal_block), so a backfill of
-- final blocks pays nothing. A reorg replays the journal backwards down to the common ancestor.
CREATE TABLE chain.undo_log (
  id           bigserial PRIMARY KEY,
  chain_id     integer NOT NULL,
  block_number bigint  NOT NULL,
  table_name   text    NOT NULL,
  operation    char(1) NOT NULL CHECK (operation IN ('I', 'U', 'D')),
  row_data     jsonb   NOT NULL
);
CREATE INDEX undo_log_block ON chain.undo_log (chain_id, block_number);

-- Statement-level triggers with transition tables: one call per statement (a backfill batch of
-- 20,000 rows costs one call, which returns at once while the journal is off), and when it is
-- on, the old rows of a whole statement are copied into the journal in one insert.
CREATE FUNCTION chain.journal_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  journal_block bigint := nullif(current_setting('haithe.journal_block', true), '')::bigint;
BEGIN
  IF journal_block IS NULL THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    INSERT INTO chain.undo_log (chain_id, block_number, table_name, operation, row_data)
    SELECT (to_jsonb(n) ->> 'chain_id')::integer, journal_block, TG_TABLE_NAME, 'I', to_jsonb(n) FROM new_rows n;
  ELSE
    INSERT INTO chain.undo_log (chain_id, block_number, table_name, operation, row_data)
    SELECT (to_jsonb(o) ->> 'chain_id')::integer, journal_block, TG_TABLE_NAME, CASE TG_OP WHEN 'UPDATE' THEN 'U' ELSE 'D' END, to_jsonb(o)
    FROM old_rows o;
  END IF;
  RETURN NULL;
END
$$;

DO $$
DECLARE
  journaled text;
BEGIN
  FOREACH journaled IN ARRAY ARRAY[
    'organizations', 'creators', 'products', 'product_enablements', 'payments', 'token_transfers',
    'token_balances', 'creator_revenue_daily', 'product_stats_daily', 'org_spend_daily', 'market_daily',
    'market_totals'
  ] LOOP
    EXECUTE format('CREATE TRIGGER journal_insert AFTER INSERT ON chain.%I REFERENCING NEW TABLE AS new_rows '
      || 'FOR EACH STATEMENT EXECUTE FUNCTION chain.journal_changes()', journaled);
    EXECUTE format('CREATE TRIGGER journal_update AFTER UPDATE ON chain.%I REFERENCING OLD TABLE AS old_rows '
      || 'FOR EACH STATEMENT EXECUTE FUNCTION chain.journal_changes()', journaled);
    EXECUTE format('CREATE TRIGGER journal_delete AFTER DELETE ON chain.%I REFERENCING OLD TABLE AS old_rows '
      || 'FOR EACH STATEMENT EXECUTE FUNCTION chain.journal_changes()', journaled);
  END LOOP;
END
$$;

-- Undoes every journaled change of blocks after p_block, newest first, and forgets those
-- entries: the derived tables are then exactly as they were when p_block was the head.
-- Runs with the journal off (the caller does not set haithe.journal_block), so undoing
-- records nothing. Table and column names come from the catalog, quoted with %I.
CREATE FUNCTION chain.undo_to(p_chain_id integer, p_block bigint) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  entry record;
  target regclass;
  key_match text;
  assignments text;
  undone integer := 0;
BEGIN
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
