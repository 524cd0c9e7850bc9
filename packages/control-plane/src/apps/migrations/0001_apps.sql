-- Apps: the apps, envs and env_scale projections (spec platform.md §2.2, §3.2).
-- Names are kept unique by name_claims (tenancy), scopes 'app:<org_id>' and
-- 'env:<app_id>'; the partial unique indexes below only describe the views.

CREATE TABLE apps (
  app_id           text PRIMARY KEY,
  org_id           text NOT NULL,
  project_id       text,
  name             text NOT NULL,
  description      text,
  resource_version integer NOT NULL,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  is_deleted       boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX apps_org_name_key ON apps (org_id, name) WHERE NOT is_deleted;
CREATE INDEX apps_org_idx ON apps (org_id, app_id) WHERE NOT is_deleted;
CREATE INDEX apps_project_idx ON apps (project_id) WHERE NOT is_deleted AND project_id IS NOT NULL;

-- resource_version counts the env's own changes (created/updated/deleted);
-- last_seq is the env aggregate's sequence last applied, which also moves for
-- events other contexts append to the env (scale, desired releases, IPv4 …).
CREATE TABLE envs (
  env_id           text PRIMARY KEY,
  org_id           text NOT NULL,
  app_id           text NOT NULL,
  name             text NOT NULL,
  resource_version integer NOT NULL,
  last_seq         integer NOT NULL,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  is_deleted       boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX envs_app_name_key ON envs (app_id, name) WHERE NOT is_deleted;
CREATE INDEX envs_app_idx ON envs (app_id, env_id) WHERE NOT is_deleted;

-- One row per env, created with the env at version 1 and no processes;
-- `processes` is [{process_type, desired}] sorted by process_type. Process
-- types never scaled are absent (the scheduler uses the manifest's min).
CREATE TABLE env_scale (
  env_id           text PRIMARY KEY,
  org_id           text NOT NULL,
  app_id           text NOT NULL,
  processes        jsonb NOT NULL,
  resource_version integer NOT NULL,
  last_seq         integer NOT NULL,
  updated_at       timestamptz NOT NULL,
  is_deleted       boolean NOT NULL DEFAULT false
);

-- Command side of "a project cannot be deleted while apps reference it": one
-- row per live app in a project, written in the app command's transaction
-- (the apps view lags the log, so it cannot answer a concurrent delete).
CREATE TABLE app_project_refs (
  app_id     text PRIMARY KEY,
  project_id text NOT NULL
);
CREATE INDEX app_project_refs_project_idx ON app_project_refs (project_id);
