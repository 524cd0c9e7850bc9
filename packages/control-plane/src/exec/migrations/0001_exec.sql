-- Exec sessions (spec platform.md §2.2, §7.8): the exec_sessions projection
-- and the command-side exec_session_tokens.

CREATE TABLE exec_sessions (
  exec_session_id         text PRIMARY KEY,
  org_id                  text NOT NULL,
  app_id                  text NOT NULL,
  env_id                  text NOT NULL,
  instance_id             text NOT NULL,
  node_id                 text NOT NULL,
  requested_command       jsonb NOT NULL,
  tty                     boolean NOT NULL,
  status                  text NOT NULL,
  expires_at              timestamptz NOT NULL,
  connect_timeout_seconds integer NOT NULL,
  granted_by              text NOT NULL,
  granted_at              timestamptz NOT NULL,
  connected_at            timestamptz,
  ended_at                timestamptz,
  exit_code               integer,
  end_reason              text,
  resource_version        integer NOT NULL
);
CREATE INDEX exec_sessions_env_idx ON exec_sessions (env_id, exec_session_id);

-- Command side, one row per session, written in the grant's transaction. The
-- token is stored only as its sha256. used_at is set by the one connect that
-- consumes it (UPDATE … WHERE used_at IS NULL); ended_at with the ended event.
-- The rate limits (§4.5) count these rows, so they hold across replicas and
-- never lag behind the log. session_expires_at bounds a session whose replica
-- died before it could append its end: it stops counting as live then.
CREATE TABLE exec_session_tokens (
  token_hash         text PRIMARY KEY,
  session_id         text NOT NULL UNIQUE,
  org_id             text NOT NULL,
  env_id             text NOT NULL,
  instance_id        text NOT NULL,
  node_id            text NOT NULL,
  created_at         timestamptz NOT NULL,
  expires_at         timestamptz NOT NULL,
  session_expires_at timestamptz NOT NULL,
  used_at            timestamptz,
  ended_at           timestamptz
);
CREATE INDEX exec_session_tokens_org_idx ON exec_session_tokens (org_id, created_at);
CREATE INDEX exec_session_tokens_live_idx ON exec_session_tokens (env_id) WHERE ended_at IS NULL;
