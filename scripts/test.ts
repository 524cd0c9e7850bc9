// Runs every test file with node's test runner against real Postgres.
//
// The server is PLFM_TEST_DATABASE_URL when set, else one embedded Postgres
// for the whole run. A template database is migrated once; each test file
// clones it (packages/testing), which is much faster than migrating per file.
//
// Usage: node --import tsx scripts/test.ts [path-substring …]
import { spawn } from "node:child_process";
import { chmod, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { serverMigrations } from "@plfm/control-plane";
import { type EmbeddedPostgresHandle, migrate, startEmbeddedPostgres } from "@plfm/kernel";
import { databaseUrl, dropDatabase } from "@plfm/testing";
import pg from "pg";

const root = new URL("..", import.meta.url).pathname;
const filters = process.argv.slice(2);

async function findTests(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await findTests(path)));
    else if (entry.name.endsWith(".test.ts")) out.push(relative(root, path));
  }
  return out.sort();
}

const files = (await findTests(join(root, "packages"))).filter(
  (f) => filters.length === 0 || filters.some((x) => f.includes(x)),
);
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}

let embedded: EmbeddedPostgresHandle | null = null;
let serverUrl = process.env.PLFM_TEST_DATABASE_URL;
let embeddedDir: string | null = null;
if (!serverUrl) {
  embeddedDir = await mkdtemp(join(tmpdir(), "plfm-test-pg-"));
  await chmod(embeddedDir, 0o755); // Postgres runs as its own user when we are root.
  console.error(`[test] no PLFM_TEST_DATABASE_URL: starting embedded Postgres in ${embeddedDir}`);
  embedded = await startEmbeddedPostgres({ dataDir: join(embeddedDir, "pg") });
  serverUrl = embedded.url;
}

const template = `plfm_tpl_${process.pid}`;
const admin = new pg.Client({ connectionString: serverUrl });
await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${template}`);
await admin.query(`CREATE DATABASE ${template}`);
const tplPool = new pg.Pool({ connectionString: databaseUrl(serverUrl, template), max: 1 });
// Every product's schema: test files of any package clone one template.
await migrate(tplPool, serverMigrations);
await tplPool.end();

const concurrency = process.env.PLFM_TEST_CONCURRENCY ?? "2";
const code = await new Promise<number>((resolve) => {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, "--test-reporter=spec", ...files],
    {
      cwd: root,
      stdio: "inherit",
      env: { ...process.env, PLFM_TEST_SERVER_URL: serverUrl, PLFM_TEST_TEMPLATE: template },
    },
  );
  child.on("exit", (c, signal) => resolve(c ?? (signal ? 1 : 0)));
});

// Test files drop their own databases; sweep what a crashed one left behind.
const { rows } = await admin.query<{ datname: string }>(
  "SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname = $2",
  [`plfm_t${process.pid}_%`, template],
);
for (const r of rows) await dropDatabase(admin, r.datname);
await admin.end();
if (embedded) await embedded.stop();
if (embeddedDir) await rm(embeddedDir, { recursive: true, force: true });
process.exit(code);
