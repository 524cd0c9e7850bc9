// Shared by the networking end-to-end tests: a real server on a fresh test
// database (with an IPv4 pool), a fetch helper, problem assertions, and
// org/app/env set-up through the API. Not used in production.
import assert from "node:assert/strict";
import { type HttpTestServer, startHttpTestServer } from "../http/test-server.ts";
import { parseIpv4Pool } from "./ipv4-pool.ts";

export { assertProblem, type CallOptions, type Reply } from "../http/test-server.ts";
export type NetServer = HttpTestServer;

/** `Bearer user:<email>`: a dev token carrying every tenant scope (PLFM_DEV). */
export const dev = (email: string) => `Bearer user:${email}`;

/** `plfm server` in dev mode on a fresh database, with `PLFM_IPV4_POOL` = `pool`. */
export function startNetServer(pool: string, operators: string[] = []): Promise<NetServer> {
  return startHttpTestServer({ operators, logLevel: "info", config: { ipv4Pool: parseIpv4Pool(pool) } });
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

/** Adds `email` to `org` with `role` through the members API. */
export async function addMember(s: NetServer, owner: string, org: string, email: string, role: string) {
  const r = await s.call("POST", `/v1/orgs/${org}/members`, { auth: owner, body: { email, role } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
}
