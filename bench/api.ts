// npm run bench:api — the API under a mixed load, over real HTTP to a real
// `plfm server` child process, on one database with the kernel measured in the
// same run. Prints one JSON line on stdout (a table on stderr).
//
// Phases: (1) the kernel's single-event append_per_s on this database and pool
// size; (2) API write throughput, closed loop (org creation: two aggregates,
// a name claim, read-your-writes on two projections); (3) an open-loop mix at
// 200 requests/s, 70% reads (GET an org) and 30% writes, for the latencies.
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { serverMigrations } from "@plfm/control-plane";
import { createPool, freePort, migrate } from "@plfm/kernel";
import pg from "pg";
import { benchAppend } from "./kernel/append.ts";
import { benchServer, percentile, report, round, throughput } from "./lib.ts";

const RATE = Number(process.env.PLFM_BENCH_RATE ?? 200);
const SECONDS = Number(process.env.PLFM_BENCH_SECONDS ?? 10);
const WORKERS = 8;

const server = await benchServer();
const dbName = `plfm_bench_api_${process.pid}`;
const admin = new pg.Client({ connectionString: server.url });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const u = new URL(server.url);
u.pathname = `/${dbName}`;
const url = u.toString();
const pool = createPool(url, { max: WORKERS, applicationName: "plfm-bench" });
await migrate(pool, serverMigrations);

const port = await freePort();
const child = spawn(process.execPath, ["--import", "tsx", "packages/cli/src/main.ts", "server"], {
  env: {
    ...process.env,
    DATABASE_URL: url,
    PLFM_LISTEN_ADDR: `127.0.0.1:${port}`,
    PLFM_DEV: "1",
    PLFM_LOG_LEVEL: "warn",
  },
  stdio: ["ignore", "ignore", "inherit"],
});
const base = `http://127.0.0.1:${port}`;
const auth = { authorization: "Bearer user:bench@example.com", "content-type": "application/json" };

try {
  for (let i = 0; ; i++) {
    const ok = await fetch(`${base}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 300) throw new Error("plfm server did not become ready");
    await sleep(100);
  }
  let n = 0;
  const write = async () => {
    const t0 = performance.now();
    const res = await fetch(`${base}/v1/orgs`, {
      method: "POST",
      headers: { ...auth, "idempotency-key": `bench-${process.pid}-${n}` },
      body: JSON.stringify({ name: `bench-${process.pid}-${n++}` }),
    });
    const body = (await res.json()) as { org_id?: string };
    if (res.status !== 201 || !body.org_id)
      throw new Error(`write failed: ${res.status} ${JSON.stringify(body)}`);
    return { ms: performance.now() - t0, orgId: body.org_id };
  };
  const orgs: string[] = [];
  for (let i = 0; i < 20; i++) orgs.push((await write()).orgId);
  const read = async () => {
    const t0 = performance.now();
    const org = orgs[Math.floor(Math.random() * orgs.length)];
    const res = await fetch(`${base}/v1/orgs/${org}`, { headers: auth });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`read failed: ${res.status}`);
    return performance.now() - t0;
  };

  // (1) The kernel's ceiling for comparison, same database and pool size.
  const kernel = await benchAppend(pool, { workers: WORKERS, roundMs: 2000, rounds: 1 });
  // (2) API writes, closed loop.
  const apiWritesPerS = await throughput(WORKERS, 5000, async () => {
    await write();
    return 1;
  });
  // (3) The open-loop mix.
  const reads: number[] = [];
  const writes: number[] = [];
  let failures = 0;
  const total = RATE * SECONDS;
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const isWrite = i % 10 < 3;
    inflight.push(
      (isWrite
        ? write().then((w) => void writes.push(w.ms))
        : read().then((ms) => void reads.push(ms))
      ).catch(() => void failures++),
    );
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - start) / 1000;
  reads.sort((a, b) => a - b);
  writes.sort((a, b) => a - b);
  report({
    target_req_per_s: RATE,
    req_per_s: round(total / elapsed, 0),
    read_p50_ms: round(percentile(reads, 50), 2),
    read_p99_ms: round(percentile(reads, 99), 2),
    write_p50_ms: round(percentile(writes, 50), 2),
    write_p99_ms: round(percentile(writes, 99), 2),
    failures,
    api_writes_per_s: round(apiWritesPerS, 0),
    append_per_s: round(kernel.append_per_s, 0),
    api_write_ratio: round(apiWritesPerS / kernel.append_per_s, 3),
  });
} finally {
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  await pool.end();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
  await server.stop();
}
