// Shared by the auth context's end-to-end tests: a real server on a fresh test
// database, a fetch helper, problem assertions, and the device flow as a user
// would drive it.
import assert from "node:assert/strict";
import { createLogger } from "@plfm/kernel";
import { createTestDatabase, type TestDatabase } from "@plfm/testing";
import type { ServerConfig } from "../config.ts";
import { type RunningServer, startServer } from "../server.ts";

export interface Harness {
  db: TestDatabase;
  server: RunningServer;
  call: Caller;
  close(): Promise<void>;
}

export type Reply = { status: number; body: Record<string, unknown>; headers: Headers; text: string };
export type Caller = (
  method: string,
  path: string,
  options?: { auth?: string; body?: unknown; key?: string },
) => Promise<Reply>;

/** A server with dev tokens on (`Bearer user:<email>`), on its own database. */
export async function startHarness(overrides: Partial<ServerConfig> = {}): Promise<Harness> {
  const db = await createTestDatabase({ poolSize: 3 });
  const config: ServerConfig = {
    databaseUrl: db.url,
    embeddedDataDir: "/nonexistent",
    listen: { host: "127.0.0.1", port: 0 },
    logLevel: "silent",
    projectionWaitTimeoutMs: 5000,
    dev: true,
    operatorEmails: new Set(),
    ...overrides,
  };
  try {
    const server = await startServer(config, { logger: createLogger({ name: "test", level: "silent" }) });
    return {
      db,
      server,
      call: callerFor(server.url),
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

export function callerFor(base: string): Caller {
  return async (method, path, options = {}) => {
    const headers: Record<string, string> = {};
    if (options.auth) headers.authorization = options.auth;
    if (options.key) headers["idempotency-key"] = options.key;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${base}${path}`, {
      method,
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await res.text();
    const json = text && (res.headers.get("content-type") ?? "").includes("json") ? JSON.parse(text) : {};
    return { status: res.status, body: json, headers: res.headers, text };
  };
}

/** `Bearer user:<email>`: a dev token carrying every grantable scope. */
export const dev = (email: string) => `Bearer user:${email}`;
export const bearer = (token: unknown) => `Bearer ${String(token)}`;

export function assertProblem(r: Reply, status: number, code: string, field?: string): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.code, code, JSON.stringify(r.body));
  assert.match(r.headers.get("content-type") ?? "", /^application\/problem\+json/);
  assert.equal(r.body.type, `https://plfm.dev/problems/${code}`);
  if (field !== undefined) {
    const fields = ((r.body.details as { field: string }[] | undefined) ?? []).map((d) => d.field);
    assert.ok(fields.includes(field), `expected a problem on ${field}: ${JSON.stringify(r.body)}`);
  }
}

/** Starts a device request, approves it as `approver`, and polls once: a fresh token pair. */
export async function signIn(
  call: Caller,
  approver: string,
  scopes?: string[],
): Promise<{ access_token: string; refresh_token: string }> {
  const start = await call("POST", "/v1/auth/device/start", {
    body: { client_name: "test", ...(scopes ? { scopes } : {}) },
  });
  assert.equal(start.status, 200, JSON.stringify(start.body));
  const ok = await call("POST", "/v1/auth/device/approve", {
    auth: approver,
    body: { user_code: start.body.user_code, decision: "approve" },
  });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  const pair = await call("POST", "/v1/auth/device/token", { body: { device_code: start.body.device_code } });
  assert.equal(pair.status, 200, JSON.stringify(pair.body));
  return pair.body as { access_token: string; refresh_token: string };
}

/** Creates an org as `owner` (a dev token) and returns its id. */
export async function createOrg(call: Caller, owner: string, name: string): Promise<string> {
  const r = await call("POST", "/v1/orgs", { auth: owner, body: { name } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return String(r.body.org_id);
}
