// Shared by the networking end-to-end tests: a real server on a fresh test
// database (with an IPv4 pool), a fetch helper, problem assertions, and
// org/app/env set-up through the API. Not used in production.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { createLogger } from "@plfm/kernel";
import { createTestDatabase, type TestDatabase } from "@plfm/testing";
import { userIdFor } from "../auth/tokens.ts";
import type { ServerConfig } from "../config.ts";
import { type RunningServer, startServer } from "../server.ts";
import { parseIpv4Pool } from "./ipv4-pool.ts";

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

export interface NetServer {
  db: TestDatabase;
  server: RunningServer;
  /** Every JSON log line the server wrote (info and above). */
  logLines: Record<string, unknown>[];
  call(method: string, path: string, options?: CallOptions): Promise<Reply>;
  eventCount(): Promise<number>;
  close(): Promise<void>;
}

/** `Bearer user:<email>`: a dev token carrying every tenant scope (PLFM_DEV). */
export const dev = (email: string) => `Bearer user:${email}`;

/** `plfm server` in dev mode on a fresh database, with `PLFM_IPV4_POOL` = `pool`. */
export async function startNetServer(pool: string, operators: string[] = []): Promise<NetServer> {
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
    ipv4Pool: parseIpv4Pool(pool),
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

/** A new org owned by `owner`, through the API. */
export async function createOrg(s: NetServer, owner: string, name: string): Promise<string> {
  const r = await s.call("POST", "/v1/orgs", { auth: owner, body: { name } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return String(r.body.org_id);
}

/** An app with one env in `org`, through the apps API; returns the env's base path E. */
export async function createEnv(s: NetServer, auth: string, org: string, app: string, env = "prod") {
  const a = await s.call("POST", `/v1/orgs/${org}/apps`, { auth, body: { name: app } });
  assert.equal(a.status, 201, JSON.stringify(a.body));
  const appId = String(a.body.app_id);
  const e = await s.call("POST", `/v1/orgs/${org}/apps/${appId}/envs`, { auth, body: { name: env } });
  assert.equal(e.status, 201, JSON.stringify(e.body));
  const envId = String(e.body.env_id);
  return { org, appId, envId, base: `/v1/orgs/${org}/apps/${appId}/envs/${envId}` };
}

/**
 * Adds `email` to `org` with `role` through the members API; when that API is
 * not mounted yet, straight into the org_members view (all authorizeOrg reads).
 */
export async function addMember(s: NetServer, owner: string, org: string, email: string, role: string) {
  const r = await s.call("POST", `/v1/orgs/${org}/members`, { auth: owner, body: { email, role } });
  if (r.status === 201 || r.status === 200) return;
  assert.equal(r.status, 404, JSON.stringify(r.body));
  await s.db.pool.query(
    `INSERT INTO org_members (member_id, org_id, user_id, email, role, resource_version, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, 1, now(), now())`,
    [`mem_test_${email}`, org, userIdFor(email), email, role],
  );
}
