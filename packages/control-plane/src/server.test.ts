import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { after, before, describe, test } from "node:test";
import { createLogger, freePort } from "@plfm/kernel";
import { createTestDatabase, type TestDatabase } from "@plfm/testing";
import type { ServerConfig } from "./config.ts";
import { StartupError } from "./database.ts";
import { startServer } from "./server.ts";

const logger = createLogger({ name: "plfm-test", level: "silent" });
let db: TestDatabase;
before(async () => {
  db = await createTestDatabase({ poolSize: 1 });
});
after(() => db.drop());

const configFor = (databaseUrl: string, port: number): ServerConfig => ({
  databaseUrl,
  embeddedDataDir: "/nonexistent/never-used",
  listen: { host: "127.0.0.1", port },
  logLevel: "silent",
  projectionWaitTimeoutMs: 5000,
  dev: false,
  operatorEmails: new Set(),
});

describe("startServer with DATABASE_URL", () => {
  test("migrates, serves on the configured address, and closes everything", async () => {
    const port = await freePort();
    const server = await startServer(configFor(db.url, port), { logger });
    try {
      assert.equal(server.url, `http://127.0.0.1:${port}`);
      assert.equal(server.database.embedded, null);
      assert.ok(server.database.migrationNames.includes("kernel/0001_event_log.sql"));
      const password = new URL(db.url).password;
      if (password)
        assert.ok(!server.database.displayUrl.includes(password), "no password in the display URL");
      const ready = await fetch(`${server.url}/readyz`);
      assert.equal(ready.status, 200);
    } finally {
      await server.close();
      await server.close(); // idempotent
    }
    await assert.rejects(fetch(`${server.url}/healthz`), "the port is closed");
    await assert.rejects(server.database.pool.query("SELECT 1"), "the pool is ended");
  });

  test("a listen address in use is a StartupError naming PLFM_LISTEN_ADDR, and the pool is closed", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(startServer(configFor(db.url, port), { logger }), (err) => {
        assert.ok(err instanceof StartupError);
        assert.match(err.message, /PLFM_LISTEN_ADDR/);
        assert.match(err.message, /already in use/);
        return true;
      });
    } finally {
      blocker.close();
    }
    // Nothing of the failed start may still hold a connection to the test database.
    // (A backend leaves pg_stat_activity shortly after its client hangs up, hence the short wait.)
    let left = -1;
    for (let i = 0; i < 40 && left !== 0; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 50));
      const { rows } = await db.pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'plfm-server'",
      );
      left = rows[0]?.n ?? -1;
    }
    assert.equal(left, 0);
  });

  test("an unreachable database is a StartupError without the password", async () => {
    const url = `postgres://postgres:hunter2@127.0.0.1:${await freePort()}/plfm`;
    await assert.rejects(startServer(configFor(url, 0), { logger }), (err) => {
      assert.ok(err instanceof StartupError);
      assert.match(err.message, /cannot reach the database/);
      assert.doesNotMatch(err.message, /hunter2/);
      return true;
    });
  });
});
