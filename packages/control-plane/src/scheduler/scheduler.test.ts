// The scheduler end to end, in-process: a real server with the scheduler on,
// nodes enrolled over HTTP, deploys through the API. Here the node side is
// driven by hand (heartbeats, status reports); sim-node tests drive it live.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { releaseBody } from "../apps/release-test-kit.ts";
import { bearer, type EnrolledNode, enrollNode, OPERATOR_EMAIL } from "../fleet/test-kit.ts";
import { type HttpTestServer, startHttpTestServer, until } from "../http/test-server.ts";
import { user } from "../tenancy/http-test-kit.ts";

const alice = user("alice@example.com");

describe("scheduler", () => {
  let t: HttpTestServer;
  let node: EnrolledNode;
  let envUrl = "";
  let appUrl = "";
  let envId = "";
  const heartbeat = (n: EnrolledNode) =>
    t.call("POST", `/v1/nodes/${n.nodeId}/heartbeat`, { auth: bearer(n.credential), body: {} });
  const liveInstances = async () =>
    (
      await t.db.pool.query(
        "SELECT instance_id, process_type, node_id, status, desired_state, overlay_ipv6 FROM instances WHERE env_id = $1 AND desired_state <> 'stopped' ORDER BY instance_id",
        [envId],
      )
    ).rows;

  before(async () => {
    t = await startHttpTestServer({ operators: [OPERATOR_EMAIL], scheduler: { tickMs: 200 } });
    const org = await t.call("POST", "/v1/orgs", { auth: alice, body: { name: "sched" } });
    const orgId = String(org.body.org_id);
    const app = await t.call("POST", `/v1/orgs/${orgId}/apps`, { auth: alice, body: { name: "shop" } });
    appUrl = `/v1/orgs/${orgId}/apps/${app.body.app_id}`;
    const env = await t.call("POST", `${appUrl}/envs`, { auth: alice, body: { name: "prod" } });
    envId = String(env.body.env_id);
    envUrl = `${appUrl}/envs/${envId}`;
  });
  after(() => t?.close());

  test("with no node, a deploy is blocked no_nodes_active, recorded once", async () => {
    const rel = await t.call("POST", `${appUrl}/releases`, { auth: alice, body: releaseBody() });
    assert.equal(rel.status, 201, JSON.stringify(rel.body));
    const dep = await t.call("POST", `${envUrl}/deploys`, {
      auth: alice,
      body: { release_id: rel.body.release_id },
    });
    assert.equal(dep.status, 201, JSON.stringify(dep.body));
    const blocked = await until("a block", async () => {
      const { rows } = await t.db.pool.query(
        "SELECT payload FROM events WHERE aggregate_id = $1 AND event_type = 'env.scheduling_blocked'",
        [envId],
      );
      return rows.length >= 2 ? rows : null;
    });
    assert.deepEqual(blocked.map((r) => [r.payload.process_type, r.payload.reason]).sort(), [
      ["web", "no_nodes_active"],
      ["worker", "no_nodes_active"],
    ]);
    // Several ticks later, still exactly one block per process type (compliance 39).
    await new Promise((r) => setTimeout(r, 800));
    const { rows } = await t.db.pool.query(
      "SELECT count(*)::int AS n FROM events WHERE aggregate_id = $1 AND event_type = 'env.scheduling_blocked'",
      [envId],
    );
    assert.equal(rows[0].n, 2);
    const status = await t.db.pool.query(
      "SELECT process_type, blocked_reason, blocked_facts FROM scheduler_status WHERE env_id = $1 ORDER BY process_type",
      [envId],
    );
    assert.deepEqual(
      status.rows.map((r) => r.blocked_reason),
      ["no_nodes_active", "no_nodes_active"],
    );
  });

  test("an active node gets the release's replicas (web 1, worker 2), each with its own /128; the block clears", async () => {
    node = await enrollNode(t, { hostname: "w1" });
    assert.equal((await heartbeat(node)).status, 200);
    const rows = await until("three instances", async () => {
      const r = await liveInstances();
      return r.length === 3 ? r : null;
    });
    assert.deepEqual(rows.map((r) => r.process_type).sort(), ["web", "worker", "worker"]);
    assert.ok(rows.every((r) => r.node_id === node.nodeId && r.status === "allocated"));
    assert.equal(new Set(rows.map((r) => r.overlay_ipv6)).size, 3);
    assert.ok(rows.every((r) => r.overlay_ipv6.startsWith("fd70:6c66:0:1::")));
    await until("unblocked", async () => {
      const { rows: u } = await t.db.pool.query(
        "SELECT count(*)::int AS n FROM events WHERE aggregate_id = $1 AND event_type = 'env.scheduling_unblocked'",
        [envId],
      );
      return u[0].n === 2;
    });
    // Nothing more is allocated while they boot.
    await new Promise((r) => setTimeout(r, 600));
    assert.equal((await liveInstances()).length, 3);
  });

  test("ready instances make the deploy succeed; a silent node goes offline", async () => {
    for (const i of await liveInstances()) {
      const r = await t.call("POST", `/v1/nodes/${node.nodeId}/instances/${i.instance_id}/status`, {
        auth: bearer(node.credential),
        body: { status: "ready", reported_at: new Date().toISOString() },
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    const deploy = await until("deploy succeeded", async () => {
      const { rows } = await t.db.pool.query("SELECT status FROM deploys WHERE env_id = $1", [envId]);
      return rows[0]?.status === "succeeded" ? rows[0] : null;
    });
    assert.equal(deploy.status, "succeeded");
    // Silence: move the last heartbeat back 60 s, as time would.
    await t.db.pool.query(
      "UPDATE node_heartbeats SET last_heartbeat_at = now() - interval '60 seconds' WHERE node_id = $1",
      [node.nodeId],
    );
    await until("node offline", async () => {
      const { rows } = await t.db.pool.query("SELECT state FROM nodes WHERE node_id = $1", [node.nodeId]);
      return rows[0]?.state === "offline";
    });
    // Its instances are drained and recorded stopped (node_offline), and nothing can replace them.
    await until("instances stopped", async () => (await liveInstances()).length === 0);
    const { rows } = await t.db.pool.query(
      `SELECT DISTINCT payload->>'reason' AS reason FROM events
        WHERE env_id = $1 AND event_type = 'instance.desired_state_changed' AND payload->>'desired_state' = 'draining'`,
      [envId],
    );
    assert.deepEqual(
      rows.map((r) => r.reason),
      ["node_offline"],
    );
  });

  test("a deploy is superseded only by a newer one that took over its processes", async () => {
    // A second env: its only node is offline now, so its deploys cannot finish.
    const env2 = await t.call("POST", `${appUrl}/envs`, { auth: alice, body: { name: "staging" } });
    const env2Url = `${appUrl}/envs/${env2.body.env_id}`;
    const rel = async () =>
      String(
        (await t.call("POST", `${appUrl}/releases`, { auth: alice, body: releaseBody() })).body.release_id,
      );
    const first = await t.call("POST", `${env2Url}/deploys`, {
      auth: alice,
      body: { release_id: await rel() },
    });
    // Several passes: a new deploy whose desired releases are not yet in their view is not superseded.
    await new Promise((r) => setTimeout(r, 800));
    const status = async (id: unknown) =>
      (await t.call("GET", `${env2Url}/deploys/${id}`, { auth: alice })).body as Record<string, unknown>;
    assert.notEqual((await status(first.body.deploy_id)).status, "failed");
    const second = await t.call("POST", `${env2Url}/deploys`, {
      auth: alice,
      body: { release_id: await rel() },
    });
    const superseded = await until("the first deploy superseded", async () => {
      const s = await status(first.body.deploy_id);
      return s.status === "failed" ? s : null;
    });
    assert.equal(superseded.failed_reason, "superseded");
    await new Promise((r) => setTimeout(r, 600));
    assert.notEqual((await status(second.body.deploy_id)).status, "failed");
  });
});
