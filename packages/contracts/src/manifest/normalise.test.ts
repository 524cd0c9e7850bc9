import assert from "node:assert/strict";
import { test } from "node:test";
import { formatManifest } from "./canonical-toml.ts";
import { canonicalJson } from "./hash.ts";
import { effectiveProcess } from "./merge.ts";
import type { NormalisedManifest } from "./types.ts";
import { validateManifest } from "./validate.ts";

const DIGEST = "a".repeat(64);

function ok(text: string): { manifest: NormalisedManifest; hash: string } {
  const r = validateManifest(text);
  if (!r.ok) assert.fail(`expected a valid manifest, got ${JSON.stringify(r.errors, null, 2)}`);
  return r;
}

const MINIMAL = `
schema_version = "v1"
[image]
ref = "app:1"
[processes.web.resources]
memory = "256Mi"
[[processes.web.ports]]
internal = 8080
[processes.worker.resources]
memory = "128Mi"
`;

test("a minimal manifest gets every default", () => {
  const { manifest, hash } = ok(MINIMAL);
  const common = {
    vars: {},
    prestart: [],
    prestart_timeout_seconds: 30,
    restart: { policy: "always", backoff_seconds: 2 },
    scaling: { min: 1, max: 1 },
    secrets: { required: false },
    mounts: [],
  };
  assert.deepEqual(manifest, {
    schema_version: "v1",
    app: {},
    image: { ref: "app:1", pull_policy: "if_not_present" },
    env: { vars: {}, prestart: [], prestart_timeout_seconds: 30 },
    processes: {
      web: {
        ...common,
        resources: { memory: "256Mi", cpu: 1, disk: "4Gi" },
        ports: [{ name: "p8080", internal: 8080, protocol: "tcp" }],
        health: {
          type: "tcp",
          port: 8080,
          interval_seconds: 10,
          timeout_seconds: 2,
          grace_period_seconds: 10,
          success_threshold: 1,
          failure_threshold: 3,
        },
      },
      // No ports and no [health]: "ready once running", so no health key at all.
      worker: { ...common, resources: { memory: "128Mi", cpu: 1, disk: "4Gi" }, ports: [] },
    },
    volumes: [],
  });
  assert.match(hash, /^sha256:[0-9a-f]{64}$/);
});

const FULL = `
schema_version = "v1"

[app]
name = "shop"
description = "The shop: caf\u00e9 edition"

[image]
ref = "registry.example.com:5000/acme/shop:1.2.3@sha256:${DIGEST}"
pull_policy = "always"

[env]
workdir = "/srv"
user = "app:app"
prestart = ["./migrate"]
prestart_timeout_seconds = 120
vars = { LOG_LEVEL = "info", SHARED = "env" }

[processes.web]
command = ["node", "server.js"]
user = "1000:1000"
vars = { SHARED = "web" }
prestart = ["./warm-cache"]
restart = { policy = "on-failure", backoff_seconds = 5 }
resources = { memory = "2048Mi", cpu = 2.5, disk = "8Gi" }
scaling = { min = 2, max = 5 }
health = { type = "http", port = "http", path = "/healthz", interval_seconds = 5, timeout_seconds = 1, grace_period_seconds = 30, success_threshold = 2, failure_threshold = 5 }
secrets = { required = true }

[[processes.web.ports]]
name = "http"
internal = 8080
protocol = "tcp"

[[processes.web.ports]]
internal = 9090

[processes.db]
workdir = "/var/lib/db"
prestart_timeout_seconds = 10
restart = { policy = "never" }
resources = { memory = "1Gi" }
scaling = { min = 0, max = 1 }

[[processes.db.mounts]]
volume = "pgdata"
path = "/var/lib/postgresql/data/"

[[processes.db.mounts]]
volume = "archive"
path = "/archive"
read_only = true

[[volumes]]
name = "pgdata"
size = "20Gi"

[[volumes]]
name = "archive"
size = "100Gi"
filesystem = "ext4"
backup_enabled = false
`;

test("a full manifest keeps every explicit value and fills the rest", () => {
  const { manifest } = ok(FULL);
  assert.deepEqual(manifest.app, { name: "shop", description: "The shop: caf\u00e9 edition" });
  assert.deepEqual(manifest.image, {
    ref: `registry.example.com:5000/acme/shop:1.2.3@sha256:${DIGEST}`,
    pull_policy: "always",
  });
  assert.deepEqual(manifest.env, {
    vars: { LOG_LEVEL: "info", SHARED: "env" },
    workdir: "/srv",
    user: "app:app",
    prestart: ["./migrate"],
    prestart_timeout_seconds: 120,
  });
  assert.deepEqual(manifest.processes.web, {
    command: ["node", "server.js"],
    user: "1000:1000",
    vars: { SHARED: "web" },
    prestart: ["./warm-cache"],
    prestart_timeout_seconds: 120, // inherited from [env]
    restart: { policy: "on-failure", max_retries: 3, backoff_seconds: 5 },
    resources: { memory: "2Gi", cpu: 2.5, disk: "8Gi" }, // 2048Mi is spelled canonically
    scaling: { min: 2, max: 5 },
    ports: [
      { name: "http", internal: 8080, protocol: "tcp" },
      { name: "p9090", internal: 9090, protocol: "tcp" },
    ],
    health: {
      type: "http",
      port: 8080, // resolved from the port name
      path: "/healthz",
      interval_seconds: 5,
      timeout_seconds: 1,
      grace_period_seconds: 30,
      success_threshold: 2,
      failure_threshold: 5,
    },
    mounts: [],
    secrets: { required: true },
  });
  assert.deepEqual(manifest.processes.db, {
    workdir: "/var/lib/db",
    vars: {},
    prestart: [],
    prestart_timeout_seconds: 10,
    restart: { policy: "never", backoff_seconds: 2 },
    resources: { memory: "1Gi", cpu: 1, disk: "4Gi" },
    scaling: { min: 0, max: 1 },
    ports: [],
    mounts: [
      { volume: "pgdata", path: "/var/lib/postgresql/data", read_only: false },
      { volume: "archive", path: "/archive", read_only: true },
    ],
    secrets: { required: false },
  });
  // Volumes are sorted by name: their order in the file means nothing.
  assert.deepEqual(manifest.volumes, [
    { name: "archive", size: "100Gi", filesystem: "ext4", backup_enabled: false },
    { name: "pgdata", size: "20Gi", filesystem: "ext4", backup_enabled: true },
  ]);
});

test("scaling: absent gives min = max = 1; max defaults to min; min defaults to 1", () => {
  const scaling = (s: string) =>
    ok(`schema_version = "v1"\n[image]\nref = "a:1"\n[processes.w]\n${s}\nresources = { memory = "64Mi" }`)
      .manifest.processes.w?.scaling;
  assert.deepEqual(scaling(""), { min: 1, max: 1 });
  assert.deepEqual(scaling("scaling = { min = 3 }"), { min: 3, max: 3 });
  assert.deepEqual(scaling("scaling = { min = 0 }"), { min: 0, max: 0 });
  assert.deepEqual(scaling("scaling = { max = 4 }"), { min: 1, max: 4 });
});

test("the env/process merge: process vars, workdir and user win; env prestart runs first", () => {
  const { manifest } = ok(FULL);
  const web = effectiveProcess(manifest, "web");
  assert.deepEqual(web, {
    name: "web",
    command: ["node", "server.js"],
    vars: { LOG_LEVEL: "info", SHARED: "web" },
    workdir: "/srv",
    user: "1000:1000",
    prestart: ["./migrate", "./warm-cache"],
    prestart_timeout_seconds: 120,
    memory_limit_bytes: 2 * 1024 ** 3,
    cpu_request: 2.5,
    ephemeral_disk_bytes: 8 * 1024 ** 3,
  });
  assert.equal(effectiveProcess(manifest, "db")?.user, "app:app");
  assert.equal(effectiveProcess(manifest, "nope"), undefined);
  assert.equal(effectiveProcess(manifest, "constructor"), undefined);
});

test("key order, comments, table style and explicit defaults do not change the hash (checklist 32)", () => {
  const a = ok(MINIMAL).hash;
  const reordered = `
# a comment
[processes.worker]
resources.memory = "128Mi"   # dotted keys instead of a table

[processes.web]
ports = [ { protocol = "tcp", internal = 8080 } ]
resources = { cpu = 1.0, memory = "256Mi" }

[image]
pull_policy = "if_not_present"
ref = "app:1"

[app]

[env]
vars = {}
prestart_timeout_seconds = 30
`;
  assert.equal(ok(`schema_version = "v1"\n${reordered}`).hash, a);
  const explicit = formatManifest(MINIMAL);
  assert.ok(explicit.ok);
  assert.equal(ok(explicit.text).hash, a);
  // ...but a real change does.
  assert.notEqual(ok(MINIMAL.replace("256Mi", "257Mi")).hash, a);
  // Equal quantities spelled differently are the same manifest.
  assert.equal(ok(MINIMAL.replace('"256Mi"', '"0256Mi"')).hash, a);
  assert.equal(ok(MINIMAL.replace('"128Mi"', '"1024Mi"')).hash, ok(MINIMAL.replace('"128Mi"', '"1Gi"')).hash);
});

test("canonical JSON sorts keys recursively and has no whitespace", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [1, { z: 1, y: "x" }], c: true } }),
    '{"a":{"c":true,"d":[1,{"y":"x","z":1}]},"b":1}',
  );
  assert.equal(canonicalJson({ a: undefined, b: null }), '{"b":null}');
});

test("the hash is sha256 over the canonical JSON of the normalised manifest", async () => {
  const { createHash } = await import("node:crypto");
  const { manifest, hash } = ok(FULL);
  assert.equal(hash, `sha256:${createHash("sha256").update(canonicalJson(manifest)).digest("hex")}`);
});

test("fmt writes the normalised manifest as TOML, deterministically", () => {
  const f = formatManifest(FULL);
  assert.ok(f.ok);
  assert.deepEqual(formatManifest(f.text), f); // idempotent
  assert.deepEqual(ok(f.text).manifest, ok(FULL).manifest);
  assert.match(f.text, /^schema_version = "v1"\n\n\[app\]\n/);
  assert.match(f.text, /\ncpu = 1\.0\n/); // cpu is a float in the spec
  assert.match(f.text, /\ncpu = 2\.5\n/);
  assert.ok(f.text.indexOf("[processes.db]") < f.text.indexOf("[processes.web]"));
  assert.ok(f.text.endsWith("\n") && !f.text.endsWith("\n\n"));
  const bad = formatManifest('schema_version = "v1"');
  assert.equal(bad.ok, false);
});
