-- Workload logs (spec platform.md §7.7): lines the node agents post, kept for
-- 7 days. Not events: nothing is derived from them, they are only read back.
--
-- tx_id orders rows for cursors the way events are ordered (§4.3): an identity
-- is not commit-ordered, so readers take (tx_id, id) below the snapshot
-- horizon and never skip a row whose transaction committed late.
-- ts is the agent's timestamp as timestamptz (microseconds, for range scans);
-- ts_ns keeps its nanoseconds so the API returns exactly what the agent sent.
-- org/app/env/process_type are copied from the instance at ingest time, never
-- taken from the agent.
-- No primary key: nothing looks a row up by id alone, and every index costs
-- each insert of a high-volume table.
CREATE TABLE workload_logs (
  id           bigint GENERATED ALWAYS AS IDENTITY,
  tx_id        xid8 NOT NULL DEFAULT pg_current_xact_id(),
  ts           timestamptz NOT NULL,
  ts_ns        bigint NOT NULL,
  org_id       text NOT NULL,
  app_id       text NOT NULL,
  env_id       text NOT NULL,
  process_type text NOT NULL,
  instance_id  text NOT NULL,
  node_id      text NOT NULL,
  stream       text NOT NULL CHECK (stream IN ('stdout', 'stderr')),
  line         text NOT NULL,
  truncated    boolean NOT NULL
);
-- The polling twin and the SSE stream: one env's rows after a cursor.
CREATE INDEX workload_logs_env_tx_idx ON workload_logs (env_id, tx_id, id);
-- Tenant queries: one env's time window, newest first (tail_lines).
CREATE INDEX workload_logs_env_ts_idx ON workload_logs (env_id, ts);
-- Retention deletes by age across all envs; rows arrive roughly in ts order,
-- so a BRIN index finds old ones for almost no write cost.
CREATE INDEX workload_logs_ts_brin ON workload_logs USING brin (ts);
