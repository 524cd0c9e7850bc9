// `plfm server mint-token` through the real binary: the printed token works
// against a server on the same database, and bad input exits with the
// documented codes.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type RunningServer, startServer } from "@plfm/control-plane";
import { createLogger } from "@plfm/kernel";
import { createTestDatabase, type TestDatabase } from "@plfm/testing";
import { EXIT } from "./exit-codes.ts";
import { runPlfm } from "./plfm-process.ts";

let db: TestDatabase;
let server: RunningServer;
let workDir: string;

before(async () => {
  db = await createTestDatabase({ poolSize: 1 });
  workDir = await mkdtemp(join(tmpdir(), "plfm-mint-"));
  server = await startServer(
    {
      databaseUrl: db.url,
      embeddedDataDir: "/nonexistent",
      listen: { host: "127.0.0.1", port: 0 },
      logLevel: "silent",
      projectionWaitTimeoutMs: 5000,
      dev: false,
      operatorEmails: new Set(["ops@example.com"]),
    },
    { logger: createLogger({ name: "test", level: "silent" }) },
  );
});
after(async () => {
  await server?.close();
  await db?.drop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

const mint = (args: string[], env: NodeJS.ProcessEnv = { DATABASE_URL: db.url }) =>
  runPlfm(["server", "mint-token", ...args], {
    cwd: workDir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });

async function whoami(token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/v1/auth/whoami`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("plfm server mint-token", { timeout: 60_000 }, () => {
  test("--json prints a pair once; the access token works, with nodes:admin for an operator", async () => {
    const r = await mint(["--email", "Ops@Example.com", "--json"]);
    assert.equal(r.code, EXIT.ok, r.output);
    const minted = JSON.parse(r.output.trim()) as Record<string, string>;
    assert.match(String(minted.access_token), /^plfm_at_[A-Za-z0-9_-]{43}$/);
    assert.match(String(minted.refresh_token), /^plfm_rt_[A-Za-z0-9_-]{43}$/);
    assert.equal(minted.email, "ops@example.com");
    const me = await whoami(String(minted.access_token));
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.equal(me.body.email, "ops@example.com");
    assert.ok(
      (me.body.scopes as string[]).includes("nodes:admin"),
      "PLFM_OPERATOR_EMAILS grants nodes:admin",
    );
    assert.ok((me.body.scopes as string[]).includes("orgs:admin"));
    // The refresh token is a real one too.
    const res = await fetch(`${server.url}/v1/auth/token/refresh`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refresh_token: minted.refresh_token }),
    });
    assert.equal(res.status, 200);
    // Only hashes were written.
    const { rows } = await db.pool.query("SELECT token_hash FROM access_tokens");
    assert.ok(rows.every((row) => row.token_hash !== minted.access_token));
  });

  test("human output names the user and carries the tokens; --scopes narrows them", async () => {
    const r = await mint(["--email", "dev@example.com", "--scopes", "orgs:read,apps:read"]);
    assert.equal(r.code, EXIT.ok, r.output);
    const access = /access_token:\s+(plfm_at_\S+)/.exec(r.output)?.[1];
    assert.ok(access, r.output);
    assert.match(r.output, /dev@example\.com/);
    const me = await whoami(access);
    assert.equal(me.status, 200);
    assert.deepEqual(me.body.scopes, ["apps:read", "orgs:read"]);
  });

  test("bad input exits 2 (usage); an unreachable database exits 1", async () => {
    const badEmail = await mint(["--email", "not-an-email"]);
    assert.equal(badEmail.code, EXIT.usage, badEmail.output);
    assert.match(badEmail.output, /not an email address/);
    const badScope = await mint(["--email", "a@example.com", "--scopes", "nodes:admin"]);
    assert.equal(badScope.code, EXIT.usage, badScope.output);
    const noEmail = await mint([]);
    assert.equal(noEmail.code, EXIT.usage, noEmail.output);
    const down = await mint(["--email", "a@example.com"], {
      DATABASE_URL: "postgres://postgres@127.0.0.1:1/none",
    });
    assert.equal(down.code, EXIT.failure, down.output);
    assert.match(down.output, /cannot reach the database/);
    assert.doesNotMatch(down.output, /plfm_at_/);
  });
});
