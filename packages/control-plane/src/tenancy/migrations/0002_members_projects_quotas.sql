-- Tenancy, continued: the projects and org_quotas projections, the command-side
-- records that keep member emails unique and an org never without an owner,
-- and the audit log.

CREATE TABLE projects (
  project_id       text PRIMARY KEY,
  org_id           text NOT NULL,
  name             text NOT NULL,
  resource_version integer NOT NULL,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  is_deleted       boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX projects_name_key ON projects (org_id, name) WHERE NOT is_deleted;
CREATE INDEX projects_org_idx ON projects (org_id, project_id) WHERE NOT is_deleted;

-- Members are listed per org in id order.
CREATE INDEX org_members_org_idx ON org_members (org_id, member_id) WHERE NOT is_deleted;

-- Only quotas an operator set (org.quota_set); defaults live in code (tenancy/quotas.ts).
-- limit_value NULL = unlimited. resource_version counts the sets of this dimension;
-- set_seq is the org event's aggregate_seq, the guard that makes re-applying a no-op.
CREATE TABLE org_quotas (
  org_id           text NOT NULL,
  dimension        text NOT NULL,
  limit_value      bigint,
  resource_version integer NOT NULL,
  set_seq          integer NOT NULL,
  updated_at       timestamptz NOT NULL,
  PRIMARY KEY (org_id, dimension)
);

-- Command side of "an org always keeps an owner": one row per current owner,
-- written in the transaction that appends the member event, read under the
-- org's membership lock (tenancy/member-commands.ts). A projection could only
-- count owners after both of two racing demotions were in the log.
CREATE TABLE org_owner_claims (
  org_id    text NOT NULL,
  member_id text NOT NULL,
  PRIMARY KEY (org_id, member_id)
);

-- Orgs created before this migration: their members' emails and owners
-- (the projection is the only record the earlier code kept besides the log).
INSERT INTO name_claims (scope, name, owner_id)
SELECT 'member:' || org_id, email, member_id FROM org_members WHERE NOT is_deleted
ON CONFLICT DO NOTHING;
INSERT INTO org_owner_claims (org_id, member_id)
SELECT org_id, member_id FROM org_members WHERE role = 'owner' AND NOT is_deleted
ON CONFLICT DO NOTHING;

-- Sensitive operations (spec platform.md §4.5 "Audited"), written in the
-- command's transaction. Never secret values: names and ids only.
CREATE TABLE audit_log (
  audit_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  org_id      text,
  actor_type  text NOT NULL,
  actor_id    text NOT NULL,
  action      text NOT NULL,
  target_type text NOT NULL,
  target_id   text NOT NULL,
  request_id  text NOT NULL,
  details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_org_idx ON audit_log (org_id, audit_id);
