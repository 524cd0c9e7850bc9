// Shared by the storage end-to-end tests: a real server on a fresh test
// database, a fetch helper, problem assertions, and org/app/env set-up
// through the API. Not used in production.
import assert from "node:assert/strict";
import { newId } from "@plfm/kernel";
import { seedNode } from "../fleet/test-seed.ts";
import { type HttpTestServer, type Reply, startHttpTestServer } from "../http/test-server.ts";
import type { StorageCtx } from "./command-kit.ts";
import { reportSnapshotStatus } from "./snapshot-commands.ts";
import { reportVolumeState } from "./volume-commands.ts";

export { assertProblem, type CallOptions, type Reply } from "../http/test-server.ts";

export interface Harness extends HttpTestServer {
  /** Events of one aggregate, oldest first. */
  events(aggregateId: string): Promise<{ event_type: string; payload: Record<string, unknown> }[]>;
  /** A node's command context, as the node endpoints will build it. */
  nodeCtx(nodeId: string): StorageCtx;
}

/** `plfm server` in dev mode on a fresh database; `operators` get nodes:admin. */
export async function startHarness(operators: string[] = []): Promise<Harness> {
  const base = await startHttpTestServer({
    operators,
    // The nodes view is the fleet context's: the home nodes the tests name are active workers.
    seed: async (db) => {
      for (const id of [nodeA, nodeB]) await seedNode(db.pool, id, "active", ["worker"]);
    },
  });
  return {
    ...base,
    events: async (id) =>
      (
        await base.db.pool.query(
          "SELECT event_type, payload FROM events WHERE aggregate_id = $1 ORDER BY aggregate_seq",
          [id],
        )
      ).rows,
    nodeCtx: (nodeId) => ({
      pool: base.db.pool,
      actor: { type: "node", id: nodeId },
      idempotency: null,
      requestId: newId("req"),
      now: new Date(),
    }),
  };
}

/** `Bearer user:<email>`: a dev token (PLFM_DEV). */
export const dev = (email: string) => `Bearer user:${email}`;

/** Asserts a 2xx with `status` and returns the body. */
export function ok(r: Reply, status: number): Record<string, unknown> {
  assert.equal(r.status, status, JSON.stringify(r.body));
  return r.body;
}

/** An org owned by `owner`, with `members` added through the members API. */
export async function makeOrg(
  h: Harness,
  owner: string,
  name: string,
  members: [string, string][] = [],
): Promise<string> {
  const org = ok(await h.call("POST", "/v1/orgs", { auth: dev(owner), body: { name } }), 201);
  const orgId = String(org.org_id);
  for (const [email, role] of members) {
    ok(await h.call("POST", `/v1/orgs/${orgId}/members`, { auth: dev(owner), body: { email, role } }), 201);
  }
  return orgId;
}

/** An app and env of the org through the apps API: the env's base path `E`. */
export async function makeEnv(
  h: Harness,
  auth: string,
  orgId: string,
  app: string,
  env = "prod",
): Promise<string> {
  const a = ok(await h.call("POST", `/v1/orgs/${orgId}/apps`, { auth, body: { name: app } }), 201);
  const e = ok(
    await h.call("POST", `/v1/orgs/${orgId}/apps/${a.app_id}/envs`, { auth, body: { name: env } }),
    201,
  );
  return `/v1/orgs/${orgId}/apps/${a.app_id}/envs/${e.env_id}`;
}

export const GiB = 1024 ** 3;
export const nodeA = "node_01JAAAAAAAAAAAAAAAAAAAAAAA";
export const nodeB = "node_01JBBBBBBBBBBBBBBBBBBBBBBB";

/** Builds on {@link Harness}: a volume its home node (nodeA) reported available. */
export async function availableVolume(h: Harness, org: string, auth: string): Promise<string> {
  const body = { size_bytes: GiB, home_node_id: nodeA };
  const v = ok(await h.call("POST", `/v1/orgs/${org}/volumes`, { auth, body }), 201);
  await reportVolumeState(h.nodeCtx(nodeA), nodeA, String(v.volume_id), { state: "available" });
  return String(v.volume_id);
}

/** A snapshot of the volume, taken through the API and reported `succeeded` by its node. */
export async function succeededSnapshot(h: Harness, auth: string, org: string, vol: string): Promise<string> {
  const s = ok(await h.call("POST", `/v1/orgs/${org}/volumes/${vol}/snapshots`, { auth, body: {} }), 202);
  const id = String(s.snapshot_id);
  await reportSnapshotStatus(h.nodeCtx(nodeA), nodeA, id, { status: "running" });
  await reportSnapshotStatus(h.nodeCtx(nodeA), nodeA, id, { status: "succeeded", size_bytes: 4096 });
  return id;
}

/** Reads after a node report (no read-your-writes) are eventually consistent: poll until `check` holds (≤ 2 s). */
export async function eventually(
  h: Harness,
  path: string,
  auth: string,
  check: (b: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    const r = await h.call("GET", path, { auth });
    if (r.status === 200 && check(r.body)) return r.body;
    await new Promise((res) => setTimeout(res, 20));
  }
  assert.fail(`${path} never matched`);
}
