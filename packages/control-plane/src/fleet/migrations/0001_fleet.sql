-- Fleet: enrollment tokens, node credentials and heartbeats (non-event
-- tables, spec platform.md §2.2), node IPAM (§8.1) and the `nodes` view.

-- One-time enrollment tokens: only the sha256 of the secret is kept (§7.1).
CREATE TABLE enrollment_tokens (
  token_id        text PRIMARY KEY,
  token_hash      text NOT NULL UNIQUE,
  created_by      text NOT NULL,
  created_at      timestamptz NOT NULL,
  expires_at      timestamptz NOT NULL,
  used_at         timestamptz,
  used_by_node_id text,
  revoked_at      timestamptz
);

-- Node bearer credentials, hashed. A rotated-away credential gets expires_at
-- (10 minutes of grace); revocation sets revoked_at on every one of the node's.
CREATE TABLE node_credentials (
  credential_hash text PRIMARY KEY,
  node_id         text NOT NULL,
  created_at      timestamptz NOT NULL,
  expires_at      timestamptz,
  revoked_at      timestamptz
);
CREATE INDEX node_credentials_node_idx ON node_credentials (node_id);

-- Heartbeats are not events: the latest report per node.
CREATE TABLE node_heartbeats (
  node_id           text PRIMARY KEY,
  last_heartbeat_at timestamptz NOT NULL,
  agent_version     text,
  report            jsonb NOT NULL
);

-- Node overlay /128s: suffixes from a sequence, never reused (a sequence
-- value is never handed out twice, even after a rollback or a node's delete).
CREATE SEQUENCE ipam_node_suffix_seq AS bigint START 1;
CREATE TABLE ipam_nodes (
  suffix       bigint PRIMARY KEY,
  node_id      text NOT NULL UNIQUE,
  overlay_ipv6 text NOT NULL UNIQUE,
  allocated_at timestamptz NOT NULL
);

-- WireGuard public keys in use, claimed in the enrollment's transaction (a
-- projection's unique index must never be what rejects a command).
CREATE TABLE node_wireguard_keys (
  public_key text PRIMARY KEY,
  node_id    text NOT NULL,
  claimed_at timestamptz NOT NULL
);
CREATE INDEX node_wireguard_keys_node_idx ON node_wireguard_keys (node_id);

-- The nodes view (projection `nodes`). storage/guards.ts reads node_id, state, roles.
CREATE TABLE nodes (
  node_id              text PRIMARY KEY,
  hostname             text NOT NULL,
  roles                text[] NOT NULL,
  state                text NOT NULL,
  state_reason         text,
  labels               jsonb NOT NULL,
  public_ipv6          text,
  public_ipv4          text,
  wireguard_public_key text NOT NULL,
  overlay_ipv6         text NOT NULL,
  allocatable          jsonb,
  reserved             jsonb,
  mtu                  integer,
  key_generation       integer NOT NULL DEFAULT 1,
  enrolled_at          timestamptz NOT NULL,
  revoked_at           timestamptz,
  resource_version     integer NOT NULL,
  created_at           timestamptz NOT NULL,
  updated_at           timestamptz NOT NULL,
  is_deleted           boolean NOT NULL DEFAULT false
);
