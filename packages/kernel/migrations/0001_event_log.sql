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

-- Appends one command's events in one statement (so one round trip and an
-- implicit transaction): check the aggregates' heads against the writer's
-- expectations, claim the idempotency key (a concurrent duplicate waits on its
-- unique index, then finds it taken), and insert the events only if both held.
-- Aggregates with a NULL expectation are appended at their current end; a
-- racing writer then fails on events_aggregate_seq_key, so sequences stay
-- gapless either way.
--
-- A plpgsql function so the plan is cached (planning this statement afresh
-- costs more than running it), taking the whole command as one jsonb value
-- because binding two dozen array parameters cost the client more than the
-- server spends on the insert. See packages/kernel/src/append.ts for `p`.
CREATE FUNCTION kernel_append(p jsonb)
RETURNS TABLE (ok boolean, event_id bigint, tx_id xid8, aggregate_seq integer)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_key text := p->>'idem_key';
  v_at timestamptz := (p->>'at')::timestamptz;
BEGIN
  RETURN QUERY
  WITH heads AS (
    SELECT a.t, a.i, a.x,
           coalesce((SELECT e.aggregate_seq FROM events e
                      WHERE e.aggregate_type = a.t AND e.aggregate_id = a.i
                      ORDER BY e.aggregate_seq DESC LIMIT 1), 0) AS head
      FROM jsonb_to_recordset(p->'aggs') AS a(t text, i text, x int)
  ), chk AS (
    SELECT coalesce(bool_and(h.x IS NULL OR h.x = h.head), true) AS ok FROM heads h
  ), idem AS (
    INSERT INTO idempotency_records AS r
      (scope, actor_id, endpoint, idempotency_key, request_hash, response, last_tx_id, created_at, expires_at)
    SELECT p->>'idem_scope', p->>'idem_actor_id', p->>'idem_endpoint', v_key, p->>'idem_hash', p->'idem_response',
           pg_current_xact_id(), v_at, (p->>'idem_expires_at')::timestamptz
      FROM chk WHERE chk.ok AND v_key IS NOT NULL
    ON CONFLICT (scope, actor_id, endpoint, idempotency_key) DO UPDATE
      SET request_hash = EXCLUDED.request_hash, response = EXCLUDED.response, last_tx_id = EXCLUDED.last_tx_id,
          created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
      WHERE r.expires_at <= now()
    RETURNING 1
  ), ins AS (
    INSERT INTO events AS ev (aggregate_type, aggregate_id, aggregate_seq, event_type, event_version, actor_type,
      actor_id, request_id, org_id, app_id, env_id, correlation_id, causation_id, idempotency_key, payload,
      occurred_at)
    SELECT n.t, n.i, h.head + n.k, n.et, n.v, p->>'actor_type', p->>'actor_id', p->>'request_id', n.o, n.a, n.en,
           n.c, n.ca, v_key, n.pl, v_at
      FROM jsonb_to_recordset(p->'events')
             AS n(ord int, t text, i text, k int, et text, v int, o text, a text, en text, c text, ca bigint, pl jsonb)
      JOIN heads h ON h.t = n.t AND h.i = n.i
     WHERE (SELECT chk.ok FROM chk) AND (v_key IS NULL OR EXISTS (SELECT 1 FROM idem))
     ORDER BY n.ord
    RETURNING ev.event_id, ev.tx_id, ev.aggregate_seq
  )
  SELECT (SELECT chk.ok FROM chk), ins.event_id, ins.tx_id, ins.aggregate_seq
    FROM (SELECT 1) AS one LEFT JOIN ins ON true
   ORDER BY ins.event_id;
END;
$fn$;
