-- Tenancy: the orgs and org_members projections, the name claims that keep
-- org names unique, and access tokens (stored hashed; not events).

CREATE TABLE orgs (
  org_id           text PRIMARY KEY,
  name             text NOT NULL,
  billing_email    text,
  resource_version integer NOT NULL,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  is_deleted       boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX orgs_name_key ON orgs (name) WHERE NOT is_deleted;

CREATE TABLE org_members (
  member_id        text PRIMARY KEY,
  org_id           text NOT NULL,
  user_id          text NOT NULL,
  email            text NOT NULL,
  role             text NOT NULL,
  resource_version integer NOT NULL,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  is_deleted       boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX org_members_email_key ON org_members (org_id, email) WHERE NOT is_deleted;
CREATE INDEX org_members_user_idx ON org_members (user_id, org_id) WHERE NOT is_deleted;

-- Command-side reservations of unique names, written in the transaction that
-- appends the claiming events: a projection's unique index would notice a
-- duplicate only after both events were in the log.
CREATE TABLE name_claims (
  scope      text NOT NULL,  -- e.g. 'org', or 'app:<org_id>'
  name       text NOT NULL,
  owner_id   text NOT NULL,
  claimed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, name)
);

CREATE TABLE access_tokens (
  token_hash   text PRIMARY KEY,            -- sha256 hex; the token itself is never stored
  subject_type text NOT NULL,               -- user | service_principal
  subject_id   text NOT NULL,
  email        text,
  org_id       text,                        -- service principals: their only org
  scopes       text[] NOT NULL,
  expires_at   timestamptz NOT NULL,
  revoked_at   timestamptz,
  refresh_token_hash text,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX access_tokens_subject_idx ON access_tokens (subject_type, subject_id);
CREATE INDEX access_tokens_expiry_idx ON access_tokens (expires_at);
