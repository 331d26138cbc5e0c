-- Billing of inference calls (schema `app`, written by the gateway only).
-- Each call is one ledger line: reserved before the upstream call (against the organization's
-- available balance and the scoped key's monthly limit), then charged at its exact price or
-- released. Charged lines are settled on chain in batches (settleUsage through the outbox); a
-- line is settled once the index shows its batch's UsageSettled.

CREATE TABLE app.usage_ledger (
  id                bigserial PRIMARY KEY,
  request_id        text NOT NULL UNIQUE,
  chain_id          integer NOT NULL,
  organization      text NOT NULL,
  project_id        bigint NOT NULL REFERENCES app.projects (id),
  -- The API key used (wallet or scoped), null for a session token.
  api_key_id        bigint REFERENCES app.api_keys (id),
  wallet            text NOT NULL,
  model_id          integer NOT NULL REFERENCES app.models (id),
  -- The model's price per call; the products' prices are in usage_line_products.
  model_amount      numeric(78,0) NOT NULL,
  -- model_amount + the products' amounts.
  amount            numeric(78,0) NOT NULL,
  status            text NOT NULL CHECK (status IN ('reserved', 'charged', 'released')),
  prompt_tokens     integer,
  completion_tokens integer,
  total_tokens      integer,
  -- The settlement batch (bytes32 hex) once the line is in one; settled_tx once the index has it.
  batch_id          text,
  settled_tx        text,
  settled_at        timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
-- What an organization owes and has not settled: reserved lines, and charged ones not yet settled.
CREATE INDEX usage_ledger_unsettled ON app.usage_ledger (chain_id, organization) WHERE status = 'reserved' OR (status = 'charged' AND settled_at IS NULL);
CREATE INDEX usage_ledger_key_month ON app.usage_ledger (api_key_id, created_at) WHERE api_key_id IS NOT NULL;
CREATE INDEX usage_ledger_batch ON app.usage_ledger (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX usage_ledger_org_time ON app.usage_ledger (chain_id, organization, created_at);

-- The products a call used and what each earns its creator.
CREATE TABLE app.usage_line_products (
  ledger_id bigint NOT NULL REFERENCES app.usage_ledger (id),
  product   text NOT NULL,
  amount    numeric(78,0) NOT NULL,
  PRIMARY KEY (ledger_id, product)
);

-- One settleUsage transaction: its unique batch id, what it settles, and its outbox entry.
CREATE TABLE app.settlement_batches (
  batch_id     text PRIMARY KEY,
  chain_id     integer NOT NULL,
  organization text NOT NULL,
  total        numeric(78,0) NOT NULL,
  lines        integer NOT NULL,
  outbox_id    bigint REFERENCES app.tx_outbox (id),
  status       text NOT NULL CHECK (status IN ('pending', 'settled', 'failed')),
  tx_hash      text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  settled_at   timestamptz
);
