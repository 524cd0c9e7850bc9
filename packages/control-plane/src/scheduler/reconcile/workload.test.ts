// groupSpecHash and workloadSpec against real normalised manifests (the
// shared validator produces them, as release create does).
import assert from "node:assert/strict";
import { test } from "node:test";
import { validateManifest } from "@plfm/contracts";
import {
  cpuShape,
  groupSpecHash,
  type ReleaseFacts,
  type WorkloadSpecInput,
  workloadSpec,
} from "./workload.ts";
import { workloadSpecProblems } from "./workload-schema.ts";

const D = (c: string) => `sha256:${c.repeat(64)}`;
const ulid = (p: string, c = "0") => `${p}_${c.repeat(26)}`;

const TOML = `
schema_version = "v1"
[image]
ref = "registry.example.com/shop:1"
[env]
vars = { LOG = "info", SHARED = "env" }
workdir = "/srv"
prestart = ["/bin/migrate"]
[processes.web]
resources = { memory = "256Mi", cpu = 1.5 }
ports = [{ internal = 8080 }, { name = "admin", internal = 9090 }]
vars = { SHARED = "web" }
health = { type = "http", port = "admin", path = "/healthz" }
restart = { policy = "on-failure" }
secrets = { required = true }
[processes.worker]
command = ["/bin/worker", "--fast"]
resources = { memory = "1Gi", cpu = 0.001 }
user = "app"
[processes.db]
resources = { memory = "512Mi", cpu = 64 }
mounts = [{ volume = "data", path = "/var/lib/db" }, { volume = "logs", path = "/var/log/db", read_only = true }]
[[volumes]]
name = "data"
size = "10Gi"
[[volumes]]
name = "logs"
size = "1Gi"
`;

function release(toml = TOML, overrides: Partial<ReleaseFacts> = {}): ReleaseFacts {
  const v = validateManifest(toml);
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return {
    release_id: ulid("rel"),
    image_ref: "registry.example.com/shop:1",
    index_or_manifest_digest: D("a"),
    resolved_digests: [
      { os: "linux", arch: "amd64", digest: D("b") },
      { os: "linux", arch: "arm64", digest: D("c") },
    ],
    manifest: v.manifest,
    manifest_hash: v.hash,
    command: ["/entrypoint", "serve"],
    ...overrides,
  };
}

const MOUNTS = [
  { volume_id: ulid("vol", "2"), mount_path: "/var/log/db", read_only: true, filesystem: "ext4" as const },
  { volume_id: ulid("vol", "1"), mount_path: "/var/lib/db", read_only: false, filesystem: "ext4" as const },
];

function input(over: Partial<WorkloadSpecInput> = {}): WorkloadSpecInput {
  return {
    org_id: ulid("org"),
    app_id: ulid("app"),
    env_id: ulid("env"),
    process_type: "web",
    release: release(),
    secrets_version_id: ulid("sv"),
    mounts: [],
    instance: { instance_id: ulid("inst"), overlay_ipv6: "fd70:6c66:0:1::5", arch: "arm64" },
    ...over,
  };
}

test("web: merged vars, http health on the named port, the arch's digest, cpu shape and secrets", () => {
  const s = workloadSpec(input());
  assert.deepEqual(workloadSpecProblems(s), []);
  assert.deepEqual(s.command, ["/entrypoint", "serve"], "no process command: the release's command");
  assert.deepEqual(s.env_vars, { LOG: "info", SHARED: "web" });
  assert.equal(s.workdir, "/srv");
  assert.equal(s.user, undefined);
  assert.deepEqual(s.prestart, ["/bin/migrate"]);
  assert.deepEqual(s.image, {
    ref: "registry.example.com/shop:1",
    digest: D("c"),
    index_digest: D("a"),
    resolved_digest: D("c"),
    os: "linux",
    arch: "arm64",
  });
  assert.deepEqual(s.resources, {
    cpu_request: 1.5,
    memory_limit_bytes: 256 * 1024 * 1024,
    ephemeral_disk_bytes: 4 * 1024 ** 3,
    vcpu_count: 2,
    cpu_weight: 150,
  });
  assert.deepEqual(s.network.ports, [
    { name: "p8080", port: 8080, protocol: "tcp" },
    { name: "admin", port: 9090, protocol: "tcp" },
  ]);
  assert.equal(s.network.gateway_ipv6, "fe80::1");
  assert.equal(s.network.mtu, 1420);
  assert.equal(s.health?.type, "http");
  assert.equal(s.health?.port, 9090);
  assert.equal(s.health?.path, "/healthz");
  assert.deepEqual(s.secrets, {
    required: true,
    secrets_version_id: ulid("sv"),
    mount_path: "/run/secrets/platform.env",
    mode: 256,
    uid: 0,
    gid: 0,
  });
  assert.deepEqual(s.lifecycle, {
    termination_grace_seconds: 10,
    restart_policy: "on-failure",
    max_retries: 3,
    backoff_seconds: 2,
  });
  assert.equal(s.generation, 1);
  assert.equal(s.spec_hash, groupSpecHash(input()));
});

test("worker: own command and user, no ports ⇒ no health, cpu weight and vcpus clamp low; no secrets version", () => {
  const s = workloadSpec(input({ process_type: "worker", secrets_version_id: null }));
  assert.deepEqual(workloadSpecProblems(s), []);
  assert.deepEqual(s.command, ["/bin/worker", "--fast"]);
  assert.equal(s.user, "app");
  assert.equal(s.health, undefined);
  assert.equal(s.resources.vcpu_count, 1);
  assert.equal(s.resources.cpu_weight, 1);
  assert.equal(s.secrets.required, false);
  assert.equal("secrets_version_id" in s.secrets, false);
  assert.equal(s.lifecycle.restart_policy, "always");
});

test("db: mounts sorted by volume id, cpu shape at the manifest maximum, a single-platform image", () => {
  const rel = release(TOML, { resolved_digests: [] });
  const s = workloadSpec(input({ process_type: "db", mounts: MOUNTS, release: rel }));
  assert.deepEqual(workloadSpecProblems(s), []);
  assert.deepEqual(
    s.mounts.map((m) => m.volume_id),
    [ulid("vol", "1"), ulid("vol", "2")],
  );
  assert.equal(s.resources.cpu_weight, 6400);
  assert.equal(s.resources.vcpu_count, 64);
  // The manifest caps cpu at 64; the clamp still guards the agent's cgroup range.
  assert.deepEqual(cpuShape(200), { vcpu_count: 200, cpu_weight: 10_000 });
  assert.deepEqual(cpuShape(0.004), { vcpu_count: 1, cpu_weight: 1 });
  assert.deepEqual(s.image, {
    ref: "registry.example.com/shop:1",
    digest: D("a"),
    resolved_digest: D("a"),
    os: "linux",
    arch: "arm64",
  });
});

test("the schema is strict: extra or missing properties and bad values are reported", () => {
  const s = workloadSpec(input({ process_type: "worker" }));
  assert.notDeepEqual(workloadSpecProblems({ ...s, extra: 1 }), []);
  assert.notDeepEqual(workloadSpecProblems({ ...s, network: { ...s.network, extra: 1 } }), []);
  assert.notDeepEqual(
    workloadSpecProblems({ ...s, resources: { ...s.resources, memory_limit_bytes: 1024 } }),
    [],
  );
  assert.notDeepEqual(workloadSpecProblems({ ...s, command: [] }), []);
  const { network: _, ...withoutNetwork } = s;
  assert.notDeepEqual(workloadSpecProblems(withoutNetwork), []);
  assert.notDeepEqual(workloadSpecProblems({ ...s, image: { ...s.image, resolved_digest: "latest" } }), []);
});

test("an arch the release does not resolve is refused, as is an unknown process type", () => {
  assert.throws(
    () =>
      workloadSpec(
        input({
          release: release(TOML, { resolved_digests: [{ os: "linux", arch: "amd64", digest: D("b") }] }),
        }),
      ),
    { code: "invalid_argument" },
  );
  assert.throws(() => groupSpecHash({ ...input(), process_type: "nope" }), { code: "not_found" });
});

test("group hash: stable across attachment order, moved by every §6.3 input", () => {
  const base = input({ process_type: "db", mounts: MOUNTS });
  const h = groupSpecHash(base);
  assert.match(h, /^[a-f0-9]{64}$/);
  assert.equal(groupSpecHash({ ...base, mounts: [...MOUNTS].reverse() }), h);
  // Instance facts are not group facts.
  const other: WorkloadSpecInput = { ...base, instance: { ...base.instance, arch: "amd64" } };
  assert.equal(groupSpecHash(other), h);
  const changed = [
    { ...base, secrets_version_id: ulid("sv", "9") },
    { ...base, secrets_version_id: null },
    { ...base, mounts: MOUNTS.slice(1) },
    { ...base, mounts: [{ ...(MOUNTS[0] as (typeof MOUNTS)[0]), read_only: false }, ...MOUNTS.slice(1)] },
    { ...base, release: { ...base.release, release_id: ulid("rel", "9") } },
    { ...base, release: { ...base.release, command: ["/other"] } },
    { ...base, process_type: "web" },
    { ...base, release: release(TOML.replace("cpu = 64", "cpu = 2")) },
    { ...base, release: release(TOML.replace('LOG = "info"', 'LOG = "debug"')) },
  ];
  const hashes = changed.map((c) => groupSpecHash(c));
  for (const x of hashes) assert.notEqual(x, h);
  assert.equal(new Set(hashes).size, hashes.length);
  // A process with its own command ignores the release's: the image command is not in its hash.
  const w = input({ process_type: "worker" });
  assert.equal(groupSpecHash({ ...w, release: { ...w.release, command: ["/other"] } }), groupSpecHash(w));
});
