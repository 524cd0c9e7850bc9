// bench:scheduler, end-to-end part: a real `plfm server` child process with
// the scheduler on, 200 enrolled nodes (enrolled and heartbeating over HTTP,
// which is all placement needs of them), and one env scaled from 0 to 2,000
// instances in one PUT (20 process types × 100, the manifest's per-process
// maximum). Measured from the PUT until every instance.allocated event is
// committed, with the server's peak RSS sampled from /proc meanwhile.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { serverMigrations } from "@plfm/control-plane";
import { createPool, freePort, migrate } from "@plfm/kernel";
import pg from "pg";

const NODES = 200;
const PROCESSES = 20;
const REPLICAS = 100;
const OPS = "bench-ops@example.com";
const DIGEST = (c: string) => `sha256:${c.repeat(64)}`;

export interface E2eResult {
  e2e_nodes: number;
  e2e_instances: number;
  e2e_ms: number;
  e2e_allocations_per_s: number;
  server_peak_rss_mb: number;
}

function manifest(): string {
  const lines = ['schema_version = "v1"', "[image]", 'ref = "registry.example.com/bench:1"'];
  for (let i = 1; i <= PROCESSES; i++) {
    const name = `p${String(i).padStart(2, "0")}`;
    lines.push(
      `[processes.${name}]`,
      'resources = { memory = "64Mi", cpu = 0.1 }',
      "scaling = { min = 0, max = 100 }",
    );
  }
  return `${lines.join("\n")}\n`;
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

export async function benchE2e(serverUrl: string): Promise<E2eResult> {
  const dbName = `plfm_bench_sched_${process.pid}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const u = new URL(serverUrl);
  u.pathname = `/${dbName}`;
  const url = u.toString();
  const pool = createPool(url, { max: 4, applicationName: "plfm-bench" });
  await migrate(pool, serverMigrations);
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", "packages/cli/src/main.ts", "server"], {
    env: {
      ...process.env,
      DATABASE_URL: url,
      PLFM_LISTEN_ADDR: `127.0.0.1:${port}`,
      PLFM_DEV: "1",
      PLFM_LOG_LEVEL: "warn",
      PLFM_OPERATOR_EMAILS: OPS,
      PLFM_SCHEDULER: "1",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const base = `http://127.0.0.1:${port}`;
  const call = async (method: string, path: string, auth: string | null, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(auth ? { authorization: auth } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    const json = text ? JSON.parse(text) : {};
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return json as Record<string, unknown>;
  };
  const ops = `Bearer user:${OPS}`;
  const owner = "Bearer user:bench-owner@example.com";
  try {
    for (let i = 0; ; i++) {
      if (
        await fetch(`${base}/readyz`).then(
          (r) => r.ok,
          () => false,
        )
      )
        break;
      if (i > 300) throw new Error("plfm server did not become ready");
      await sleep(100);
    }
    // 200 nodes of mixed size, 8 at a time: token, enroll, first heartbeat (→ active).
    const enrollOne = async (i: number) => {
      const tok = await call("POST", "/v1/nodes/enrollment-tokens", ops, {});
      const n = await call("POST", "/v1/nodes/enroll", null, {
        enrollment_token: tok.enrollment_token,
        hostname: `bench-${i}`,
        agent_version: "0.1.0",
        supported_api_versions: ["v1"],
        roles: ["worker"],
        wireguard_public_key: randomBytes(32).toString("base64"),
        labels: { arch: "amd64" },
        capacity: {
          cpu_cores: 4 + (i % 3) * 4,
          memory_bytes: (8 + (i % 3) * 8) * 1024 ** 3,
          disk_bytes: 100 * 1024 ** 3,
        },
      });
      await call("POST", `/v1/nodes/${n.node_id}/heartbeat`, `Bearer ${n.node_credential}`, {});
    };
    for (let i = 0; i < NODES; i += 8) {
      await Promise.all(Array.from({ length: Math.min(8, NODES - i) }, (_, k) => enrollOne(i + k)));
    }
    const org = await call("POST", "/v1/orgs", owner, { name: "bench" });
    const orgPath = `/v1/orgs/${org.org_id}`;
    await call("PUT", `${orgPath}/quotas/max_instances`, ops, { limit_value: NODES * 100 });
    await call("PUT", `${orgPath}/quotas/max_total_memory_bytes`, ops, { limit_value: 4 * 1024 ** 4 });
    const app = await call("POST", `${orgPath}/apps`, owner, { name: "bench" });
    const appPath = `${orgPath}/apps/${app.app_id}`;
    const env = await call("POST", `${appPath}/envs`, owner, { name: "prod" });
    const envPath = `${appPath}/envs/${env.env_id}`;
    const rel = await call("POST", `${appPath}/releases`, owner, {
      image_ref: "registry.example.com/bench:1",
      index_or_manifest_digest: DIGEST("a"),
      resolved_digests: [{ os: "linux", arch: "amd64", digest: DIGEST("b") }],
      command: ["/bin/bench"],
      manifest: manifest(),
    });
    await call("POST", `${envPath}/deploys`, owner, { release_id: rel.release_id });
    const scale = await call("GET", `${envPath}/scale`, owner);
    await sleep(500); // let the deploy's pass (0 replicas each) settle before the clock starts

    let peak = await rssMb(child.pid ?? 0);
    const sampler = setInterval(() => {
      void rssMb(child.pid ?? 0).then((mb) => {
        peak = Math.max(peak, mb);
      });
    }, 100);
    const target = PROCESSES * REPLICAS;
    const t0 = performance.now();
    await call("PUT", `${envPath}/scale`, owner, {
      processes: Array.from({ length: PROCESSES }, (_, i) => ({
        process_type: `p${String(i + 1).padStart(2, "0")}`,
        desired: REPLICAS,
      })),
      expected_version: scale.resource_version,
    });
    let allocated = 0;
    while (allocated < target) {
      const { rows } = await pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM events WHERE event_type = 'instance.allocated'",
      );
      allocated = rows[0]?.n ?? 0;
      if (performance.now() - t0 > 120_000)
        throw new Error(`only ${allocated} of ${target} allocated in 120 s`);
      if (allocated < target) await sleep(10);
    }
    const ms = performance.now() - t0;
    clearInterval(sampler);
    peak = Math.max(peak, await rssMb(child.pid ?? 0));
    return {
      e2e_nodes: NODES,
      e2e_instances: allocated,
      e2e_ms: Math.round(ms),
      e2e_allocations_per_s: Math.round(allocated / (ms / 1000)),
      server_peak_rss_mb: Math.round(peak),
    };
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}
