// Shared by the plan and sim-node tests: an org, app and env with a real
// release created over the API, so instances allocated against it have a
// workload. Not used in production.
import assert from "node:assert/strict";
import { newId } from "@plfm/kernel";
import { releaseBody } from "../apps/release-test-kit.ts";
import type { TestServer } from "../tenancy/http-test-kit.ts";
import { user } from "../tenancy/http-test-kit.ts";

export const OWNER = user("owner@example.com");

export interface Tenant {
  orgId: string;
  appId: string;
  envId: string;
  envUrl: string;
  releaseId: string;
}

async function created(t: TestServer, path: string, body: unknown, idField: string): Promise<string> {
  const r = await t.call("POST", path, { auth: OWNER, body });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return String(r.body[idField]);
}

export async function createTenant(t: TestServer): Promise<Tenant> {
  const orgId = await created(t, "/v1/orgs", { name: `org-${newId("x").slice(-6).toLowerCase()}` }, "org_id");
  const appId = await created(t, `/v1/orgs/${orgId}/apps`, { name: "shop" }, "app_id");
  const envId = await created(t, `/v1/orgs/${orgId}/apps/${appId}/envs`, { name: "prod" }, "env_id");
  const releaseId = await created(t, `/v1/orgs/${orgId}/apps/${appId}/releases`, releaseBody(), "release_id");
  return { orgId, appId, envId, envUrl: `/v1/orgs/${orgId}/apps/${appId}/envs/${envId}`, releaseId };
}

/** Polls `check` until it returns a value other than undefined, or fails after `ms`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
