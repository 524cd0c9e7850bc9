-- The scheduler's own tables (spec platform.md §2.2 non-event tables, §6, §8.1).

-- What the reconciler last concluded per (env, process type): env status's
-- last_reconcile_at / last_error and `why`'s blockers with the facts behind
-- them (each node considered and why it was rejected). Written by the
-- scheduler after each pass over the group; not an event, not a projection.
CREATE TABLE scheduler_status (
  env_id            text NOT NULL,
  process_type      text NOT NULL,
  org_id            text NOT NULL,
  last_reconcile_at timestamptz NOT NULL,
  last_error        text,
  blocked_reason    text,
  blocked_detail    text,
  -- [{node_id, reason, detail, facts{…}}] for the nodes considered (capped).
  blocked_facts     jsonb,
  PRIMARY KEY (env_id, process_type)
);

-- Instance /128s (§8.1): one row per address ever handed out, claimed in the
-- allocating transaction (so two passes can never hand out one address) and
-- released when the instance is stopped; a released address is not reused
-- for 24 h.
-- A reuse after the cooldown overwrites the row (one row per address).
CREATE TABLE instance_addresses (
  overlay_ipv6 text PRIMARY KEY,
  instance_id  text NOT NULL UNIQUE,
  allocated_at timestamptz NOT NULL,
  released_at  timestamptz
);
CREATE INDEX instance_addresses_released_idx ON instance_addresses (released_at) WHERE released_at IS NOT NULL;

-- env_scheduling (projection): the current block of each (env, process type),
-- from env.scheduling_blocked / env.scheduling_unblocked.
CREATE TABLE env_scheduling (
  env_id        text NOT NULL,
  process_type  text NOT NULL,
  org_id        text NOT NULL,
  blocked       boolean NOT NULL,
  reason        text,
  detail        text,
  since         timestamptz NOT NULL,
  env_seq       integer NOT NULL,
  PRIMARY KEY (env_id, process_type)
);
