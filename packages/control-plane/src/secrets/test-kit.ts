// Shared by the secrets end-to-end tests: a real server on a fresh test
// database whose every log line (trace and up) and every response body is
// kept as raw text, so a test can search them for a planted secret value.
// Not used in production.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { createLogger } from "@plfm/kernel";
import { createTestDatabase, type TestDatabase } from "@plfm/testing";
import type { ServerConfig } from "../config.ts";
import { type RunningServer, startServer } from "../server.ts";
import type { Keyring } from "./keyring.ts";

export interface Reply {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

export interface SecretsTestServer {
  db: TestDatabase;
  server: RunningServer;
  /** Everything the server logged, as written. */
  logText(): string;
  /** Every response body received, as text. */
  responseTexts: string[];
  call(
    method: string,
    path: string,
    options?: { auth?: string; body?: unknown; key?: string },
  ): Promise<Reply>;
  close(): Promise<void>;
}

/** Starts `plfm server` on a fresh database with `keyring` (null = none) and logs at trace level. */
export async function startSecretsServer(options: {
  keyring: Keyring | null;
  dev?: boolean;
}): Promise<SecretsTestServer> {
  const db = await createTestDatabase({ poolSize: 2 });
  const logChunks: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logChunks.push(String(chunk));
      done();
    },
  });
  const config: ServerConfig = {
    databaseUrl: db.url,
    embeddedDataDir: "/nonexistent",
    listen: { host: "127.0.0.1", port: 0 },
    logLevel: "trace",
    // Generous: other suites may load the machine; a real lag still fails the test.
    projectionWaitTimeoutMs: 15_000,
    dev: options.dev ?? true,
    operatorEmails: new Set(),
    secretsKeyring: options.keyring,
  };
  let server: RunningServer;
  try {
    server = await startServer(config, {
      logger: createLogger({ name: "test", level: "trace", destination: sink }),
    });
  } catch (err) {
    await db.drop();
    throw err;
  }
  const responseTexts: string[] = [];
  return {
    db,
    server,
    logText: () => logChunks.join(""),
    responseTexts,
    async call(method, path, opts = {}) {
      const headers: Record<string, string> = {};
      if (opts.auth) headers.authorization = opts.auth;
      if (opts.key) headers["idempotency-key"] = opts.key;
      if (opts.body !== undefined) headers["content-type"] = "application/json";
      const res = await fetch(`${server.url}${path}`, {
        method,
        headers,
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      });
      const text = await res.text();
      responseTexts.push(text);
      return { status: res.status, body: text ? JSON.parse(text) : {}, headers: res.headers };
    },
    async close() {
      await server.close();
      await db.drop();
    },
  };
}

/** Dev bearer token of a user (PLFM_DEV). */
export const user = (email: string) => `Bearer user:${email}`;

/** A problem+json answer with this status and code (and a detail on `field`, if given). */
export function assertProblem(r: Reply, status: number, code: string, field?: string): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.code, code, JSON.stringify(r.body));
  assert.match(r.headers.get("content-type") ?? "", /^application\/problem\+json/);
  if (field !== undefined) {
    const fields = ((r.body.details as { field: string }[] | undefined) ?? []).map((d) => d.field);
    assert.ok(fields.includes(field), `expected a problem on ${field}: ${JSON.stringify(r.body)}`);
  }
}

/** Creates an org (as `owner`), an app and an env through the API; returns the `E/secrets` path. */
export async function createEnv(t: SecretsTestServer, owner: string, name: string): Promise<EnvPath> {
  const org = await t.call("POST", "/v1/orgs", { auth: owner, body: { name } });
  assert.equal(org.status, 201, JSON.stringify(org.body));
  const orgId = String(org.body.org_id);
  const app = await t.call("POST", `/v1/orgs/${orgId}/apps`, { auth: owner, body: { name: "web" } });
  assert.equal(app.status, 201, JSON.stringify(app.body));
  const appId = String(app.body.app_id);
  const env = await t.call("POST", `/v1/orgs/${orgId}/apps/${appId}/envs`, {
    auth: owner,
    body: { name: "prod" },
  });
  assert.equal(env.status, 201, JSON.stringify(env.body));
  const envId = String(env.body.env_id);
  return { orgId, appId, envId, secrets: `/v1/orgs/${orgId}/apps/${appId}/envs/${envId}/secrets` };
}

export interface EnvPath {
  orgId: string;
  appId: string;
  envId: string;
  secrets: string;
}
