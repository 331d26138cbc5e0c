-- The write path's application tables (schema `app`, written by `haithe gateway` only).
-- On-chain state (organizations, their owners and balances, creators, products, on-chain
-- product enablement) stays in `chain`; these tables hold what the chain does not: sign-in,
-- sessions, keys, members, projects, display state, and the transactions the server sends.
-- Organizations and products are referred to by (chain_id, contract address).

-- Wallets that signed in at least once.
CREATE TABLE app.accounts (
  address       text PRIMARY KEY,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_login_at timestamptz
);

-- Sign-in challenges: single use, short-lived, shared by every gateway replica.
CREATE TABLE app.nonces (
  nonce      text PRIMARY KEY,
  address    text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at    timestamptz
);
CREATE INDEX nonces_expires_at ON app.nonces (expires_at);

-- One row per issued JWT (its `sid`): logout and revocation end it before it expires.
CREATE TABLE app.sessions (
  id           uuid PRIMARY KEY,
  address      text NOT NULL,
  ip           text,
  user_agent   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  revoked_at   timestamptz
);
CREATE INDEX sessions_address ON app.sessions (address);

-- API keys, stored as SHA-256 digests (the key is shown once). `wallet` keys are v1's `sk-…`
-- keys (one active per wallet); `scoped` keys act for one organization and project with a role.
CREATE TABLE app.api_keys (
  id            bigserial PRIMARY KEY,
  kind          text NOT NULL CHECK (kind IN ('wallet', 'scoped')),
  address       text NOT NULL,
  key_hash      bytea NOT NULL UNIQUE,
  hint          text NOT NULL,
  name          text,
  chain_id      integer,
  organization  text,
  project_id    bigint,
  role          text CHECK (role IN ('admin', 'developer', 'viewer')),
  monthly_limit numeric(78,0),
  created_at    timestamptz NOT NULL DEFAULT now(),
  revoked_at    timestamptz,
  last_used_at  timestamptz,
  CHECK (kind = 'wallet' OR (organization IS NOT NULL AND project_id IS NOT NULL AND role IS NOT NULL))
);
CREATE UNIQUE INDEX api_keys_one_active_wallet_key ON app.api_keys (address) WHERE kind = 'wallet' AND revoked_at IS NULL;
CREATE INDEX api_keys_address ON app.api_keys (address);

-- Application state of an on-chain organization: its display name and archiving.
CREATE TABLE app.organization_settings (
  chain_id     integer NOT NULL,
  organization text NOT NULL,
  display_name text,
  archived_at  timestamptz,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, organization)
);

-- Members besides the on-chain owner.
CREATE TABLE app.org_members (
  chain_id     integer NOT NULL,
  organization text NOT NULL,
  address      text NOT NULL,
  role         text NOT NULL CHECK (role IN ('admin', 'member')),
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, organization, address)
);
CREATE INDEX org_members_address ON app.org_members (address);

-- The model catalogue (v1's), price per call in tUSDT base units.
CREATE TABLE app.models (
  id             integer PRIMARY KEY,
  name           text NOT NULL UNIQUE,
  display_name   text NOT NULL,
  provider       text NOT NULL,
  is_active      boolean NOT NULL,
  price_per_call numeric(78,0) NOT NULL
);
INSERT INTO app.models (id, name, display_name, provider, is_active, price_per_call) VALUES
  (1,  'gemini-2.0-flash',            'Gemini 2.0 Flash',       'google',   true,  0),
  (2,  'gemini-2.0-flash-lite',       'Gemini 2.0 Flash Lite',  'google',   true,  100000000000000),
  (3,  'gemini-2.5-pro',              'Gemini 2.5 Pro',         'google',   false, 1500000000000000),
  (4,  'gemini-2.5-flash',            'Gemini 2.5 Flash',       'google',   true,  1000000000000000),
  (5,  'gemini-2.5-flash-lite',       'Gemini 2.5 Flash Lite',  'google',   true,  800000000000000),
  (6,  'openai/gpt-oss-20b',          'GPT-OSS 20B',            'groq',     true,  100000000000000),
  (7,  'openai/gpt-oss-120b',         'GPT-OSS 120B',           'groq',     false, 350000000000000),
  (8,  'moonshotai/kimi-k2-instruct', 'Kimi K2 Instruct',       'groq',     true,  5000000000000000),
  (9,  'gpt-4o-mini',                 'GPT-4o mini',            'openai',   false, 0),
  (10, 'gpt-4o',                      'GPT-4o',                 'openai',   false, 0),
  (11, 'deepseek-chat',               'DeepSeek Chat',          'deepseek', false, 0),
  (12, 'deepseek-reasoner',           'DeepSeek Reasoner',      'deepseek', false, 0);

CREATE TABLE app.org_model_enrollments (
  chain_id     integer NOT NULL,
  organization text NOT NULL,
  model_id     integer NOT NULL REFERENCES app.models (id),
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, organization, model_id)
);

-- Projects of an organization. `uid` is what `proj-<uid>` headers carry.
CREATE TABLE app.projects (
  id               bigserial PRIMARY KEY,
  uid              text NOT NULL UNIQUE,
  chain_id         integer NOT NULL,
  organization     text NOT NULL,
  name             text NOT NULL,
  search_enabled   boolean NOT NULL DEFAULT false,
  memory_enabled   boolean NOT NULL DEFAULT false,
  default_model_id integer REFERENCES app.models (id),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  deleted_at       timestamptz
);
CREATE INDEX projects_organization ON app.projects (chain_id, organization) WHERE deleted_at IS NULL;

CREATE TABLE app.project_members (
  project_id bigint NOT NULL REFERENCES app.projects (id),
  address    text NOT NULL,
  role       text NOT NULL CHECK (role IN ('admin', 'developer', 'viewer')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, address)
);
CREATE INDEX project_members_address ON app.project_members (address);

-- Products a project uses (intersected with the organization's on-chain enablement).
CREATE TABLE app.project_products (
  project_id bigint NOT NULL REFERENCES app.projects (id),
  product    text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, product)
);

-- A product's marketplace presentation, set by its creator.
CREATE TABLE app.product_details (
  chain_id    integer NOT NULL,
  product     text NOT NULL,
  description text,
  photo_url   text,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, product)
);

-- Every transaction the server sends. The signed raw transaction is stored before it is
-- broadcast, so a restart re-broadcasts it instead of signing anew.
CREATE TABLE app.tx_outbox (
  id              bigserial PRIMARY KEY,
  idempotency_key text NOT NULL UNIQUE,
  chain_id        integer NOT NULL,
  kind            text NOT NULL,
  requested_by    text,
  from_address    text NOT NULL,
  to_address      text NOT NULL,
  data            text NOT NULL,
  value           numeric(78,0) NOT NULL DEFAULT 0,
  gas_limit       numeric(78,0),
  nonce           bigint,
  status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'pending', 'mined', 'confirmed', 'failed')),
  tx_hash         text,
  block_number    bigint,
  attempts        integer NOT NULL DEFAULT 0,
  error           text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (chain_id, from_address, nonce)
);
CREATE INDEX tx_outbox_unfinished ON app.tx_outbox (chain_id, status, id) WHERE status IN ('queued', 'pending', 'mined');

-- Each signed version of an outbox transaction (a replacement has the same nonce and a higher fee);
-- whichever of them is mined is the outcome.
CREATE TABLE app.tx_attempts (
  tx_hash                  text PRIMARY KEY,
  outbox_id                bigint NOT NULL REFERENCES app.tx_outbox (id),
  raw                      text NOT NULL,
  max_fee_per_gas          numeric(78,0) NOT NULL,
  max_priority_fee_per_gas numeric(78,0) NOT NULL,
  created_at               timestamptz NOT NULL DEFAULT now(),
  broadcast_at             timestamptz
);
CREATE INDEX tx_attempts_outbox ON app.tx_attempts (outbox_id);

-- The next nonce of each signer account, taken under a row lock.
CREATE TABLE app.signer_nonces (
  chain_id   integer NOT NULL,
  address    text NOT NULL,
  next_nonce bigint NOT NULL,
  PRIMARY KEY (chain_id, address)
);

-- The tUSDT faucet: one grant per wallet per hour, enforced by a conditional upsert.
CREATE TABLE app.faucet_grants (
  address         text PRIMARY KEY,
  last_granted_at timestamptz NOT NULL,
  outbox_id       bigint REFERENCES app.tx_outbox (id)
);

-- Webhook deliveries seen, so a replayed event id is ignored.
CREATE TABLE app.webhook_events (
  provider    text NOT NULL,
  event_id    text NOT NULL,
  type        text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  outbox_id   bigint REFERENCES app.tx_outbox (id),
  PRIMARY KEY (provider, event_id)
);

-- Answers to write requests that carried an `Idempotency-Key`, replayed for a repeat.
CREATE TABLE app.idempotent_requests (
  caller       text NOT NULL,
  key          text NOT NULL,
  method       text NOT NULL,
  path         text NOT NULL,
  status       integer,
  body         jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (caller, key)
);
