// The end-to-end test harness every context's tests share: `plfm server` in
// dev mode on a fresh test database, a fetch helper, and problem+json
// assertions. Test support only; no production code imports it.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { createLogger } from "@plfm/kernel";
import { createTestDatabase, type TestDatabase } from "@plfm/testing";
import type { ServerConfig } from "../config.ts";
import { type RunningServer, startServer } from "../server.ts";

export interface Reply {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

export interface CallOptions {
  auth?: string;
  body?: unknown;
  key?: string;
}

export interface HttpTestServer {
  db: TestDatabase;
  server: RunningServer;
  /** Every JSON log line the server wrote (at `logLevel`). */
  logLines: Record<string, unknown>[];
  call(method: string, path: string, options?: CallOptions): Promise<Reply>;
  eventCount(): Promise<number>;
  close(): Promise<void>;
}

export interface HttpTestServerOptions {
  /** Emails granted nodes:admin. */
  operators?: string[];
  /** Config fields beyond the test defaults (e.g. `ipv4Pool`). */
  config?: Partial<ServerConfig>;
  /** `info` to capture log lines, `silent` otherwise (default). */
  logLevel?: "info" | "silent";
  /** Run the real scheduler (default off: most tests place instances by hand), with this tick. */
  scheduler?: { tickMs?: number; heartbeatTimeoutMs?: number };
  /** Runs on the fresh database after the server started (seeding other contexts' views). */
  seed?: (db: TestDatabase) => Promise<void>;
}

/** Starts the server; the database is dropped again if start-up or `seed` fails. */
export async function startHttpTestServer(options: HttpTestServerOptions = {}): Promise<HttpTestServer> {
  const db = await createTestDatabase({ poolSize: 2 });
  const logLevel = options.logLevel ?? "silent";
  const logLines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n")) if (line.trim()) logLines.push(JSON.parse(line));
      done();
    },
  });
  const config: ServerConfig = {
    databaseUrl: db.url,
    embeddedDataDir: "/nonexistent",
    listen: { host: "127.0.0.1", port: 0 },
    logLevel,
    projectionWaitTimeoutMs: 5000,
    dev: true,
    operatorEmails: new Set(options.operators ?? []),
    ...(options.scheduler
      ? {
          scheduler: true,
          ...(options.scheduler.tickMs !== undefined ? { schedulerTickMs: options.scheduler.tickMs } : {}),
          ...(options.scheduler.heartbeatTimeoutMs !== undefined
            ? { schedulerHeartbeatTimeoutMs: options.scheduler.heartbeatTimeoutMs }
            : {}),
        }
      : {}),
    ...options.config,
  };
  let server: RunningServer;
  try {
    server = await startServer(config, {
      logger: createLogger({ name: "test", level: logLevel, destination: sink }),
    });
    await options.seed?.(db);
  } catch (err) {
    await db.drop();
    throw err;
  }
  return {
    db,
    server,
    logLines,
    call: httpCaller(server.url),
    eventCount: async () => (await db.pool.query("SELECT count(*)::int AS n FROM events")).rows[0].n,
    close: async () => {
      await server.close();
      await db.drop();
    },
  };
}

/** A JSON request helper against `baseUrl`: bearer auth, Idempotency-Key, parsed body. */
export function httpCaller(baseUrl: string) {
  return async (method: string, path: string, options: CallOptions = {}): Promise<Reply> => {
    const headers: Record<string, string> = {};
    if (options.auth) headers.authorization = options.auth;
    if (options.key) headers["idempotency-key"] = options.key;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : {}, headers: res.headers };
  };
}

/** A problem+json answer with this status and code, and a detail on `field` when given. */
export function assertProblem(r: Reply, status: number, code: string, field?: string): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.code, code, JSON.stringify(r.body));
  assert.match(r.headers.get("content-type") ?? "", /^application\/problem\+json/);
  assert.equal(r.body.type, `https://plfm.dev/problems/${code}`);
  assert.equal(r.body.instance, r.headers.get("x-request-id"));
  if (field !== undefined) {
    const fields = ((r.body.details as { field: string }[] | undefined) ?? []).map((d) => d.field);
    assert.ok(fields.includes(field), `expected a problem on ${field}: ${JSON.stringify(r.body)}`);
  }
}

/** Polls `fn` until it returns something truthy (then returns it), or fails after `ms`. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
