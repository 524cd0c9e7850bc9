-- Storage records (spec platform.md §2.2, §10): the volumes,
-- volume_attachments, snapshots and restore_jobs projections, and the
-- command-side rows the storage commands write in their own transactions.

-- `state` is the recorded state (creating/available/error/deleting/deleted);
-- the API refines `available` from instances. A volume stays visible while
-- `deleting` and becomes is_deleted once the agent reports it `deleted`.
CREATE TABLE volumes (
  volume_id        text PRIMARY KEY,
  org_id           text NOT NULL,
  name             text,
  size_bytes       bigint NOT NULL,
  filesystem       text NOT NULL,
  backup_enabled   boolean NOT NULL,
  home_node_id     text NOT NULL,
  state            text NOT NULL,
  state_reason     text,
  resource_version integer NOT NULL,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  is_deleted       boolean NOT NULL DEFAULT false
);
-- Names and mount paths are kept unique by the command side (name_claims,
-- volume_attachment_claims). The views' indexes are deliberately not unique:
-- a name freed and taken again in two racing transactions may reach the log
-- in the other order, and a unique view index would then jam the projection.
CREATE INDEX volumes_org_name_idx ON volumes (org_id, name) WHERE NOT is_deleted;
CREATE INDEX volumes_org_idx ON volumes (org_id, volume_id) WHERE NOT is_deleted;
CREATE INDEX volumes_home_idx ON volumes (home_node_id) WHERE NOT is_deleted;

CREATE TABLE volume_attachments (
  attachment_id    text PRIMARY KEY,
  org_id           text NOT NULL,
  app_id           text NOT NULL,
  env_id           text NOT NULL,
  volume_id        text NOT NULL,
  process_type     text NOT NULL,
  mount_path       text NOT NULL,
  read_only        boolean NOT NULL,
  resource_version integer NOT NULL,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  is_deleted       boolean NOT NULL DEFAULT false
);
CREATE INDEX volume_attachments_env_idx ON volume_attachments (env_id, attachment_id) WHERE NOT is_deleted;
CREATE INDEX volume_attachments_volume_idx ON volume_attachments (volume_id) WHERE NOT is_deleted;

CREATE TABLE snapshots (
  snapshot_id      text PRIMARY KEY,
  org_id           text NOT NULL,
  volume_id        text NOT NULL,
  status           text NOT NULL,
  consistency      text NOT NULL,
  size_bytes       bigint,
  note             text,
  source_node_id   text NOT NULL,
  failed_reason    text,
  resource_version integer NOT NULL,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL
);
CREATE INDEX snapshots_volume_idx ON snapshots (volume_id, snapshot_id);
CREATE INDEX snapshots_org_idx ON snapshots (org_id, snapshot_id);

CREATE TABLE restore_jobs (
  restore_id       text PRIMARY KEY,
  org_id           text NOT NULL,
  snapshot_id      text NOT NULL,
  source_volume_id text NOT NULL,
  new_volume_name  text,
  target_node_id   text,
  status           text NOT NULL,
  new_volume_id    text,
  failed_reason    text,
  resource_version integer NOT NULL,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL
);
CREATE INDEX restore_jobs_org_idx ON restore_jobs (org_id, restore_id);

-- Command side. A projection notices a second attachment of a volume, or a
-- second active snapshot, only after both events are in the log; these rows
-- are written in the commands' transactions, so their keys refuse the second.

-- One row per volume that is not yet reported deleted: quota usage
-- (max_volumes, max_total_volume_bytes) counted exactly under the quota lock.
CREATE TABLE volume_claims (
  volume_id    text PRIMARY KEY,
  org_id       text NOT NULL,
  size_bytes   bigint NOT NULL,
  home_node_id text NOT NULL
);
CREATE INDEX volume_claims_org_idx ON volume_claims (org_id);

-- One row per live attachment: single writer (a volume in one attachment),
-- unique (env, process, path), one home node per (env, process), and what a
-- volume delete checks.
CREATE TABLE volume_attachment_claims (
  attachment_id text PRIMARY KEY,
  org_id        text NOT NULL,
  env_id        text NOT NULL,
  process_type  text NOT NULL,
  mount_path    text NOT NULL,
  volume_id     text NOT NULL UNIQUE,
  home_node_id  text NOT NULL,
  UNIQUE (env_id, process_type, mount_path)
);
CREATE INDEX volume_attachment_claims_org_idx ON volume_attachment_claims (org_id);

-- The queued or running snapshot of a volume (at most one, §10.2); removed
-- when the node reports it succeeded or failed.
CREATE TABLE volume_active_snapshots (
  volume_id   text PRIMARY KEY,
  snapshot_id text NOT NULL UNIQUE
);
