-- Releases, deploys and each env's desired release per process type
-- (spec platform.md §2.2, §3.2). Releases are immutable: one row each, never
-- updated. Commands never read these views (they fold the log).

CREATE TABLE releases (
  release_id               text PRIMARY KEY,
  org_id                   text NOT NULL,
  app_id                   text NOT NULL,
  image_ref                text NOT NULL,
  index_or_manifest_digest text NOT NULL,
  resolved_digests         jsonb NOT NULL,
  manifest_schema_version  integer NOT NULL,
  manifest                 jsonb NOT NULL,
  manifest_hash            text NOT NULL,
  manifest_size_bytes      integer NOT NULL,
  command                  jsonb NOT NULL,
  created_at               timestamptz NOT NULL
);
CREATE INDEX releases_app_idx ON releases (app_id, release_id);

-- last_seq guards idempotent re-application of deploy.status_changed.
CREATE TABLE deploys (
  deploy_id        text PRIMARY KEY,
  org_id           text NOT NULL,
  app_id           text NOT NULL,
  env_id           text NOT NULL,
  kind             text NOT NULL,
  release_id       text NOT NULL,
  process_types    jsonb NOT NULL,
  strategy         text NOT NULL,
  status           text NOT NULL,
  message          text,
  failed_reason    text,
  initiated_at     timestamptz NOT NULL,
  resource_version integer NOT NULL,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL
);
CREATE INDEX deploys_env_idx ON deploys (env_id, deploy_id);
CREATE INDEX deploys_env_created_idx ON deploys (env_id, created_at DESC);

-- One row per (env, process type) ever deployed; env_seq is the env
-- aggregate's sequence of the event that set it (the idempotency guard).
CREATE TABLE env_desired_releases (
  env_id       text NOT NULL,
  process_type text NOT NULL,
  org_id       text NOT NULL,
  app_id       text NOT NULL,
  release_id   text NOT NULL,
  deploy_id    text NOT NULL,
  env_seq      integer NOT NULL,
  updated_at   timestamptz NOT NULL,
  PRIMARY KEY (env_id, process_type)
);
