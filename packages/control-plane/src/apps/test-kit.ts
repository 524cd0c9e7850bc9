// Shared by the apps context's end-to-end tests: a real server on a fresh
// test database, a fetch helper, problem assertions, and org set-up.
import assert from "node:assert/strict";
import { createLogger } from "@plfm/kernel";
import { createTestDatabase, type TestDatabase } from "@plfm/testing";
import type { ServerConfig } from "../config.ts";
import { type RunningServer, startServer } from "../server.ts";

/** Listed in PLFM_OPERATOR_EMAILS: gets nodes:admin (sets quotas). */
export const OPERATOR_EMAIL = "ops@example.com";

export interface Harness {
  db: TestDatabase;
  server: RunningServer;
  close(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const db = await createTestDatabase({ poolSize: 2 });
  const config: ServerConfig = {
    databaseUrl: db.url,
    embeddedDataDir: "/nonexistent",
    listen: { host: "127.0.0.1", port: 0 },
    logLevel: "silent",
    projectionWaitTimeoutMs: 5000,
    dev: true,
    operatorEmails: new Set([OPERATOR_EMAIL]),
  };
  try {
    const server = await startServer(config, { logger: createLogger({ name: "test", level: "silent" }) });
    return {
      db,
      server,
      close: async () => {
        await server.close();
        await db.drop();
      },
    };
  } catch (err) {
    await db.drop();
    throw err;
  }
}

export type Reply = { status: number; body: Record<string, unknown>; headers: Headers };

/** `Bearer user:<email>`: a dev token carrying every tenant scope (PLFM_DEV). */
export const dev = (email: string) => `Bearer user:${email}`;

export function caller(h: Harness) {
  return async function call(
    method: string,
    path: string,
    options: { auth?: string; body?: unknown; key?: string } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (options.auth) headers.authorization = options.auth;
    if (options.key) headers["idempotency-key"] = options.key;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${h.server.url}${path}`, {
      method,
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : {}, headers: res.headers };
  };
}

export function assertProblem(r: Reply, status: number, code: string, field?: string): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.code, code, JSON.stringify(r.body));
  assert.match(r.headers.get("content-type") ?? "", /^application\/problem\+json/);
  if (field !== undefined) {
    const fields = ((r.body.details as { field: string }[] | undefined) ?? []).map((d) => d.field);
    assert.ok(fields.includes(field), `expected a problem on ${field}: ${JSON.stringify(r.body)}`);
  }
}

export const eventCount = async (h: Harness): Promise<number> =>
  (await h.db.pool.query("SELECT count(*)::int AS n FROM events")).rows[0].n as number;

/** Adds a member through the members API (tenancy), as `owner` (an org owner's token). */
export async function addMember(
  h: Harness,
  owner: string,
  orgId: string,
  email: string,
  role: string,
): Promise<void> {
  const r = await caller(h)("POST", `/v1/orgs/${orgId}/members`, { auth: owner, body: { email, role } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
}
