-- Secrets (spec platform.md §9): the secret_bundles projection, the command
-- side's one-bundle-per-env claim, and the non-event tables secret_versions
-- (metadata) and secret_material (ciphertext). Values and ciphertext live in
-- secret_material only: never in events, views or logs.

-- The view behind GET E/secrets. current_* are null only between a bundle's
-- created and version_set events (one transaction, so never for long).
-- resource_version = number of versions set (the aggregate's seq minus one).
CREATE TABLE secret_bundles (
  bundle_id          text PRIMARY KEY,
  org_id             text NOT NULL,
  app_id             text NOT NULL,
  env_id             text NOT NULL,
  format             text NOT NULL,
  current_version_id text,
  current_data_hash  text,
  resource_version   integer NOT NULL,
  last_seq           integer NOT NULL,
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  is_deleted         boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX secret_bundles_env_key ON secret_bundles (env_id) WHERE NOT is_deleted;

-- Which bundle an env has, written with the bundle's first events. Writers lock
-- the row (SELECT … FOR UPDATE), which serialises an env's secret writes: a
-- PATCH must merge onto the version it decrypted, and the first two PUTs of an
-- env must not create two bundles.
CREATE TABLE secret_bundle_claims (
  env_id     text PRIMARY KEY,
  bundle_id  text NOT NULL UNIQUE,
  org_id     text NOT NULL,
  app_id     text NOT NULL,
  claimed_at timestamptz NOT NULL DEFAULT now()
);

-- One row per version, sealed under its own data key (§9.2). material_id is
-- the version's id: the two are one-to-one, and no id prefix is invented.
-- A rewrap job updates only master_key_id, wrapped_data_key and its nonce.
CREATE TABLE secret_material (
  material_id            text PRIMARY KEY,
  cipher                 text NOT NULL,
  nonce                  bytea NOT NULL,
  ciphertext             bytea NOT NULL,   -- canonical bytes ‖ 16-byte GCM tag
  master_key_id          text NOT NULL,
  wrapped_data_key       bytea NOT NULL,   -- data key ‖ 16-byte GCM tag
  wrapped_data_key_nonce bytea NOT NULL,
  plaintext_size_bytes   integer NOT NULL,
  created_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX secret_material_master_key_idx ON secret_material (master_key_id);

-- Immutable. No uniqueness on (bundle_id, data_hash): putting old content again
-- is a new version with the same hash (that is how a rollback looks).
CREATE TABLE secret_versions (
  version_id      text PRIMARY KEY,
  bundle_id       text NOT NULL,
  org_id          text NOT NULL,
  app_id          text NOT NULL,
  env_id          text NOT NULL,
  data_hash       text NOT NULL,
  format          text NOT NULL,
  keys            text[] NOT NULL,
  material_id     text NOT NULL REFERENCES secret_material (material_id),
  created_at      timestamptz NOT NULL,
  created_by_type text NOT NULL,
  created_by_id   text NOT NULL
);
CREATE INDEX secret_versions_bundle_idx ON secret_versions (bundle_id, version_id);
