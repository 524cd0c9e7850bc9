-- Auth: refresh tokens, device codes and service-principal secrets (stored
-- hashed; not events), and the service_principals projection.
--
-- Auth migrates before tenancy (contexts.ts lists it first), so nothing here
-- refers to tenancy's tables; access_tokens lives in tenancy's 0001.

-- One row per refresh token. Every token rotated from one sign-in shares a
-- family_id (the hash of the family's first token), so presenting a rotated
-- token again can revoke the whole chain.
CREATE TABLE refresh_tokens (
  token_hash   text PRIMARY KEY,            -- sha256 hex of the plfm_rt_ token
  family_id    text NOT NULL,
  subject_type text NOT NULL,               -- user (service principals get no refresh tokens)
  subject_id   text NOT NULL,
  email        text,
  scopes       text[] NOT NULL,
  expires_at   timestamptz NOT NULL,
  rotated_at   timestamptz,                 -- exchanged for a new pair: presenting it again is reuse
  revoked_at   timestamptz,
  created_at   timestamptz NOT NULL
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expiry_idx ON refresh_tokens (expires_at);

-- The device-authorization flow (RFC 8628): a device polls with the plfm_dc_
-- code while a signed-in user approves the user_code.
CREATE TABLE device_codes (
  device_code_hash      text PRIMARY KEY,   -- sha256 hex of the plfm_dc_ code
  user_code             text NOT NULL,      -- ABCD-2345
  client_name           text NOT NULL,
  scopes                text[] NOT NULL,    -- requested
  status                text NOT NULL
    CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'consumed')),
  created_at            timestamptz NOT NULL,
  expires_at            timestamptz NOT NULL,
  poll_interval_seconds integer NOT NULL,   -- grows by 5 on each slow_down
  last_polled_at        timestamptz,
  decided_at            timestamptz,
  user_id               text,               -- the approving user
  email                 text,
  granted_scopes        text[]              -- requested ∩ the approver's token scopes
);
-- A user code names one pending request at a time; a collision on insert draws another.
CREATE UNIQUE INDEX device_codes_user_code_key ON device_codes (user_code) WHERE status = 'pending';
CREATE INDEX device_codes_user_code_idx ON device_codes (user_code, created_at);
CREATE INDEX device_codes_expiry_idx ON device_codes (expires_at);

-- The current client secret of each live service principal (argon2id, PHC
-- string). Deleted with the principal, in the transaction of its event.
CREATE TABLE service_principal_secrets (
  service_principal_id text PRIMARY KEY,
  org_id               text NOT NULL,
  client_secret_hash   text NOT NULL,
  rotation_id          integer NOT NULL,    -- 0 at creation, then the service_principal.secret_rotated count
  updated_at           timestamptz NOT NULL
);

-- Projection of the service_principal aggregate.
CREATE TABLE service_principals (
  service_principal_id text PRIMARY KEY,
  org_id               text NOT NULL,
  name                 text NOT NULL,
  scopes               text[] NOT NULL,
  secret_rotated_at    timestamptz,
  resource_version     integer NOT NULL,
  created_at           timestamptz NOT NULL,
  updated_at           timestamptz NOT NULL,
  is_deleted           boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX service_principals_name_key ON service_principals (org_id, name) WHERE NOT is_deleted;
CREATE INDEX service_principals_org_idx ON service_principals (org_id, service_principal_id) WHERE NOT is_deleted;
