-- Networking: the routes and env_networking projections (spec platform.md
-- §3.2, §8.4, §8.6), and the command-side tables that keep route ports and
-- IPv4 allocations consistent under concurrency. Hostnames are kept globally
-- unique by name_claims (tenancy), scope 'hostname'.

CREATE TABLE routes (
  route_id                       text PRIMARY KEY,
  org_id                         text NOT NULL,
  app_id                         text NOT NULL,
  env_id                         text NOT NULL,
  hostname                       text NOT NULL,
  listen_port                    integer NOT NULL,
  protocol_hint                  text NOT NULL,
  backend_process_type           text NOT NULL,
  backend_port                   integer NOT NULL,
  proxy_protocol                 text NOT NULL,
  backend_expects_proxy_protocol boolean NOT NULL,
  ipv4_required                  boolean NOT NULL,
  resource_version               integer NOT NULL,
  created_at                     timestamptz NOT NULL,
  updated_at                     timestamptz NOT NULL,
  is_deleted                     boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX routes_hostname_key ON routes (hostname) WHERE NOT is_deleted;
CREATE INDEX routes_env_idx ON routes (env_id, route_id) WHERE NOT is_deleted;

-- One row per env that ever had the IPv4 add-on. last_seq is the env
-- aggregate's sequence of the last IPv4 event applied (the apply guard).
CREATE TABLE env_networking (
  env_id             text PRIMARY KEY,
  org_id             text NOT NULL,
  app_id             text,
  ipv4_enabled       boolean NOT NULL,
  ipv4_address       text,
  ipv4_allocation_id text,
  enabled_at         timestamptz,
  last_seq           integer NOT NULL,
  updated_at         timestamptz NOT NULL
);

-- Command side. One row per live route, written in the transaction that
-- appends route.created / route.updated and deleted with route.deleted: the
-- port rules and "IPv4 still required" are decided from it, never from the
-- (lagging) routes view.
CREATE TABLE route_claims (
  route_id      text PRIMARY KEY,
  org_id        text NOT NULL,
  env_id        text NOT NULL,
  listen_port   integer NOT NULL,
  protocol_hint text NOT NULL,
  ipv4_required boolean NOT NULL
);
CREATE INDEX route_claims_port_idx ON route_claims (listen_port);
CREATE INDEX route_claims_env_idx ON route_claims (env_id);

-- Command side. The IPv4 add-on's allocations, written in the transaction
-- that appends env.ipv4_addon_enabled / _disabled. The partial unique
-- indexes are what make an address impossible to hand out twice, and an env
-- impossible to hold two. Released rows stay for the 24 h cooldown (§8.1).
CREATE TABLE ipv4_allocations (
  allocation_id text PRIMARY KEY,
  address       inet NOT NULL CHECK (family(address) = 4 AND masklen(address) = 32),
  org_id        text NOT NULL,
  env_id        text NOT NULL,
  allocated_at  timestamptz NOT NULL,
  released_at   timestamptz
);
CREATE UNIQUE INDEX ipv4_allocations_address_key ON ipv4_allocations (address) WHERE released_at IS NULL;
CREATE UNIQUE INDEX ipv4_allocations_env_key ON ipv4_allocations (env_id) WHERE released_at IS NULL;
CREATE INDEX ipv4_allocations_released_idx ON ipv4_allocations (released_at) WHERE released_at IS NOT NULL;
