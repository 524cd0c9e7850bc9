// Shared by the logs end-to-end tests: a server with org A (app, env, a
// readonly member), org B, two enrolled nodes, and instances allocated the way
// the scheduler will (instance.allocated through the kernel). Not used in production.
import assert from "node:assert/strict";
import { allocateInstance } from "../apps/test-allocate.ts";
import { bearer, enrollNode, OPERATOR_EMAIL } from "../fleet/test-kit.ts";
import { type HttpTestServer, type Reply, startHttpTestServer } from "../http/test-server.ts";
import { user } from "../tenancy/http-test-kit.ts";

export { user };
export const alice = user("alice@example.com");
export const bob = user("bob@example.com");
export const rita = user("rita@example.com");

export interface Node {
  nodeId: string;
  credential: string;
}

export interface LogsWorld {
  t: HttpTestServer;
  orgA: string;
  orgB: string;
  appId: string;
  envId: string;
  /** `/v1/orgs/{A}/apps/{app}/envs/{env}` */
  envUrl: string;
  node1: Node;
  node2: Node;
  allocate(processType: string, node?: Node, envId?: string): Promise<string>;
  post(node: Node, entries: unknown[], nodeInPath?: string): Promise<Reply>;
  rowCount(): Promise<number>;
}

async function created(t: HttpTestServer, path: string, auth: string, body: unknown, id: string) {
  const r = await t.call("POST", path, { auth, body });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return String(r.body[id]);
}

export async function startLogsWorld(): Promise<LogsWorld> {
  const t = await startHttpTestServer({ operators: [OPERATOR_EMAIL] });
  const orgA = await created(t, "/v1/orgs", alice, { name: "org-a" }, "org_id");
  const orgB = await created(t, "/v1/orgs", bob, { name: "org-b" }, "org_id");
  const appId = await created(t, `/v1/orgs/${orgA}/apps`, alice, { name: "shop" }, "app_id");
  const envId = await created(t, `/v1/orgs/${orgA}/apps/${appId}/envs`, alice, { name: "prod" }, "env_id");
  await created(
    t,
    `/v1/orgs/${orgA}/members`,
    alice,
    { email: "rita@example.com", role: "readonly" },
    "member_id",
  );
  const node1 = await enrollNode(t, { hostname: "worker-1" });
  const node2 = await enrollNode(t, { hostname: "worker-2" });

  const allocate = (processType: string, node: Node = node1, env = envId): Promise<string> =>
    allocateInstance(t, { orgId: orgA, appId, envId: env, nodeId: node.nodeId, processType });

  return {
    t,
    orgA,
    orgB,
    appId,
    envId,
    envUrl: `/v1/orgs/${orgA}/apps/${appId}/envs/${envId}`,
    node1,
    node2,
    allocate,
    post: (node, entries, nodeInPath = node.nodeId) =>
      t.call("POST", `/v1/nodes/${nodeInPath}/logs`, { auth: bearer(node.credential), body: { entries } }),
    rowCount: async () => (await t.db.pool.query("SELECT count(*)::int AS n FROM workload_logs")).rows[0].n,
  };
}

/** An entry at `ts` (default now), on stdout. */
export function entry(instanceId: string, line: string, ts = new Date().toISOString(), stream = "stdout") {
  return { ts, instance_id: instanceId, stream, line };
}
