-- What shapes an inference call besides the request (schema `app`, written by the gateway only):
-- knowledge products' text, chunked and indexed for full-text search at first use, and
-- conversation memory kept across restarts and replicas.

-- One row per chunk of a knowledge product's content. `version` names the content the chunks
-- came from (a digest of the product's uri and key material): new content, new chunks.
CREATE TABLE app.knowledge_chunks (
  chain_id   integer NOT NULL,
  product    text NOT NULL,
  version    text NOT NULL,
  ordinal    integer NOT NULL,
  content    text NOT NULL,
  tsv        tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, product, version, ordinal)
);
CREATE INDEX knowledge_chunks_tsv ON app.knowledge_chunks USING gin (tsv);

-- A conversation of one project, started by one wallet (or named by the client with the
-- Haithe-Conversation header or the request's `user` field: `external_id`).
CREATE TABLE app.conversations (
  id          uuid PRIMARY KEY,
  chain_id    integer NOT NULL,
  project_id  bigint NOT NULL REFERENCES app.projects (id),
  wallet      text NOT NULL,
  external_id text,
  title       text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  deleted_at  timestamptz
);
CREATE UNIQUE INDEX conversations_external ON app.conversations (project_id, external_id) WHERE external_id IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX conversations_wallet ON app.conversations (wallet, updated_at DESC) WHERE deleted_at IS NULL;

-- Messages in the order they were said; `message` is the OpenAI message object as sent or answered.
CREATE TABLE app.memory_messages (
  id              bigserial PRIMARY KEY,
  conversation_id uuid NOT NULL REFERENCES app.conversations (id) ON DELETE CASCADE,
  role            text NOT NULL,
  message         jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX memory_messages_conversation ON app.memory_messages (conversation_id, id DESC);

-- What each organization owes and has not settled: Σ amount of its reserved lines and of its
-- charged lines not yet settled. Every statement that moves a line in or out of that set keeps
-- it (reserve +, release −, settlement −), so a reservation checks the balance and records
-- itself in one statement, under this row's lock, instead of summing the ledger.
CREATE TABLE app.billing_accounts (
  chain_id     integer NOT NULL,
  organization text NOT NULL,
  owed         numeric(78,0) NOT NULL DEFAULT 0 CHECK (owed >= 0),
  PRIMARY KEY (chain_id, organization)
);
INSERT INTO app.billing_accounts (chain_id, organization, owed)
SELECT chain_id, organization, sum(amount)
FROM app.usage_ledger
WHERE status = 'reserved' OR (status = 'charged' AND settled_at IS NULL)
GROUP BY chain_id, organization;
