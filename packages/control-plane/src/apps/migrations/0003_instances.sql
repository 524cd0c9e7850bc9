-- The instances view (spec platform.md §2.2, §3.4): one row per
-- instance.allocated, updated by instance.desired_state_changed and
-- instance.status_changed. resource_version is the instance aggregate's
-- sequence of the last event applied (the idempotency guard).

CREATE TABLE instances (
  instance_id        text PRIMARY KEY,
  org_id             text NOT NULL,
  app_id             text NOT NULL,
  env_id             text NOT NULL,
  process_type       text NOT NULL,
  node_id            text NOT NULL,
  release_id         text NOT NULL,
  deploy_id          text,
  secrets_version_id text,
  overlay_ipv6       text NOT NULL,
  resources_snapshot jsonb NOT NULL,
  spec_hash          text NOT NULL,
  desired_state      text NOT NULL,
  drain_grace_seconds integer,
  drain_reason       text,
  status             text NOT NULL,
  generation         integer,
  boot_id            text,
  runtime_id         text,
  exit_code          integer,
  reason_code        text,
  reason_detail      text,
  reported_at        timestamptz,
  resource_version   integer NOT NULL,
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL
);
CREATE INDEX instances_env_idx ON instances (env_id, instance_id);
CREATE INDEX instances_node_idx ON instances (node_id);
