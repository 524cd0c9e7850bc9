// Shared by the tenancy end-to-end tests: a real server on a fresh test
// database, a fetch wrapper, and problem+json assertions. Not used in production.
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

export interface TestServer {
  db: TestDatabase;
  server: RunningServer;
  /** Every JSON log line the server wrote (info and above). */
  logLines: Record<string, unknown>[];
  call(method: string, path: string, options?: CallOptions): Promise<Reply>;
  eventCount(): Promise<number>;
  close(): Promise<void>;
}

/** Starts `plfm server` in dev mode on a fresh database; `operators` get nodes:admin. */
export async function startTestServer(operators: string[] = []): Promise<TestServer> {
  const db = await createTestDatabase({ poolSize: 2 });
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
    logLevel: "info",
    projectionWaitTimeoutMs: 5000,
    dev: true,
    operatorEmails: new Set(operators),
  };
  let server: RunningServer;
  try {
    server = await startServer(config, {
      logger: createLogger({ name: "test", level: "info", destination: sink }),
    });
  } catch (err) {
    await db.drop();
    throw err;
  }
  const call = async (method: string, path: string, options: CallOptions = {}): Promise<Reply> => {
    const headers: Record<string, string> = {};
    if (options.auth) headers.authorization = options.auth;
    if (options.key) headers["idempotency-key"] = options.key;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : {}, headers: res.headers };
  };
  return {
    db,
    server,
    logLines,
    call,
    eventCount: async () => (await db.pool.query("SELECT count(*)::int AS n FROM events")).rows[0].n,
    close: async () => {
      await server.close();
      await db.drop();
    },
  };
}

/** A problem+json answer with this status and code. */
export function assertProblem(r: Reply, status: number, code: string): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.code, code, JSON.stringify(r.body));
  assert.match(r.headers.get("content-type") ?? "", /^application\/problem\+json/);
  assert.equal(r.body.instance, r.headers.get("x-request-id"));
}

/** A 400 `invalid_argument` naming `field` in its details. */
export function assertInvalid(r: Reply, field: string): void {
  assertProblem(r, 400, "invalid_argument");
  const fields = ((r.body.details ?? []) as { field: string }[]).map((d) => d.field);
  assert.ok(fields.includes(field), `expected a problem on ${field}, got ${JSON.stringify(r.body)}`);
}

/** Dev bearer token of a user. */
export const user = (email: string) => `Bearer user:${email}`;

/** A 400 `invalid_expected_version` (spec §4.2) naming `expected_version`. */
export function assertInvalidVersion(r: Reply): void {
  assertProblem(r, 400, "invalid_expected_version");
  const fields = ((r.body.details ?? []) as { field: string }[]).map((d) => d.field);
  assert.ok(
    fields.includes("expected_version"),
    `expected a problem on expected_version, got ${JSON.stringify(r.body)}`,
  );
}
