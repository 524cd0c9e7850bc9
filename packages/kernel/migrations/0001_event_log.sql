-- The append-only event log, the idempotency records written beside it, and
-- projection checkpoints. See ARCHITECTURE.md "The kernel's hard parts".

CREATE TABLE events (
  event_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Commit order is not id order: readers order by (tx_id, event_id) and stop
  -- below pg_snapshot_xmin so a late-committing transaction is never skipped.
  tx_id           xid8 NOT NULL DEFAULT pg_current_xact_id(),
  occurred_at     timestamptz NOT NULL DEFAULT now(),
  aggregate_type  text NOT NULL,
  aggregate_id    text NOT NULL,
  aggregate_seq   integer NOT NULL CHECK (aggregate_seq >= 1),
  event_type      text NOT NULL CHECK (event_type ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
  event_version   integer NOT NULL DEFAULT 1 CHECK (event_version >= 1),
  actor_type      text NOT NULL,
  actor_id        text NOT NULL,
  request_id      text NOT NULL,
  org_id          text,
  app_id          text,
  env_id          text,
  correlation_id  text,
  causation_id    bigint REFERENCES events (event_id),
  idempotency_key text,
  payload         jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
  -- Also serves "latest seq of an aggregate" lookups: a btree scans backwards
  -- as well as forwards, so no separate DESC index is needed.
  CONSTRAINT events_aggregate_seq_key UNIQUE (aggregate_type, aggregate_id, aggregate_seq)
);

CREATE INDEX events_order_idx ON events (tx_id, event_id);
CREATE INDEX events_org_order_idx ON events (org_id, tx_id, event_id) WHERE org_id IS NOT NULL;
CREATE INDEX events_type_order_idx ON events (event_type, tx_id, event_id);
CREATE INDEX events_org_idempotency_idx ON events (org_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

-- Written in the same transaction as the command's events, so neither can
-- exist without the other.
CREATE TABLE idempotency_records (
  scope           text NOT NULL,          -- org id, or '_global'
  actor_id        text NOT NULL,
  endpoint        text NOT NULL,
  idempotency_key text NOT NULL,
  request_hash    text NOT NULL,
  response        jsonb NOT NULL,
  last_tx_id      xid8,                   -- position of the command's last event, so a
  last_event_id   bigint,                 -- replay can wait for projections again
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  PRIMARY KEY (scope, actor_id, endpoint, idempotency_key)
);
CREATE INDEX idempotency_records_expiry_idx ON idempotency_records (expires_at);

CREATE TABLE projection_checkpoints (
  projection_name text PRIMARY KEY,
  last_tx_id      xid8 NOT NULL DEFAULT '0',
  last_event_id   bigint NOT NULL DEFAULT 0,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- A wake-up hint for feed readers and the projection runner, sent at commit.
-- Never the data path: readers always re-read the log. One per statement, and
-- Postgres folds identical notifications within a transaction.
CREATE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('plfm_events', '');
  RETURN NULL;
END;
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events
  FOR EACH STATEMENT EXECUTE FUNCTION events_notify();
