// The scheduler end to end with simulated nodes (issue 4 acceptance): real
// server, real HTTP on both sides; the nodes boot, fail and drain instances
// as their plans say. One story, in order: rollout without losing ready
// replicas, a secret change rolling every process, a failing release leaving
// the old ones serving, a silent node replaced, a stateful process pinned to
// its volume's node, a drain, and scale to zero and back.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { releaseBody } from "../apps/release-test-kit.ts";
import { type SimNode, startSimNode } from "../fleet/sim-node.ts";
import { OPERATOR_EMAIL } from "../fleet/test-kit.ts";
import { type HttpTestServer, startHttpTestServer, until } from "../http/test-server.ts";
import { user } from "../tenancy/http-test-kit.ts";

const alice = user("alice@example.com");
const ops = user(OPERATOR_EMAIL);
const GiB = 1024 ** 3;

interface Row {
  instance_id: string;
  process_type: string;
  node_id: string;
  status: string;
  desired_state: string;
  release_id: string;
  secrets_version_id: string | null;
}

describe("scheduler with simulated nodes", () => {
  let t: HttpTestServer;
  const nodes: SimNode[] = [];
  let appUrl = "";
  let envUrl = "";
  let envId = "";
  let orgId = "";
  let v2 = "";

  const rows = async (): Promise<Row[]> =>
    (
      await t.db.pool.query<Row>(
        `SELECT instance_id, process_type, node_id, status, desired_state, release_id, secrets_version_id
           FROM instances WHERE env_id = $1 AND desired_state <> 'stopped' ORDER BY instance_id`,
        [envId],
      )
    ).rows;
  const ready = (rs: Row[], process = "worker") =>
    rs.filter((r) => r.process_type === process && r.status === "ready" && r.desired_state === "running");
  const release = async (command: string[]) => {
    const r = await t.call("POST", `${appUrl}/releases`, { auth: alice, body: releaseBody({ command }) });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return String(r.body.release_id);
  };
  const deploy = async (releaseId: string) => {
    const r = await t.call("POST", `${envUrl}/deploys`, { auth: alice, body: { release_id: releaseId } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return String(r.body.deploy_id);
  };
  const deployStatus = async (deployId: string) =>
    (await t.call("GET", `${envUrl}/deploys/${deployId}`, { auth: alice })).body;
  const settled = (expectReady: { web: number; worker: number }, releaseId?: string) =>
    until(`web ${expectReady.web} + worker ${expectReady.worker} ready`, async () => {
      const rs = await rows();
      const running = rs.filter((r) => r.desired_state === "running");
      const ok =
        ready(rs, "web").length === expectReady.web &&
        ready(rs, "worker").length === expectReady.worker &&
        running.length === expectReady.web + expectReady.worker &&
        rs.every((r) => r.desired_state === "running") &&
        (releaseId === undefined || running.every((r) => r.release_id === releaseId));
      return ok ? rs : null;
    });
  const scale = async (desired: number) => {
    const current = await t.call("GET", `${envUrl}/scale`, { auth: alice });
    const r = await t.call("PUT", `${envUrl}/scale`, {
      auth: alice,
      body: {
        processes: [{ process_type: "worker", desired }],
        expected_version: current.body.resource_version,
      },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  };

  before(async () => {
    t = await startHttpTestServer({
      operators: [OPERATOR_EMAIL],
      // Long enough that a loaded machine's late heartbeat is not silence (which
      // would make nodes flap offline and rollouts churn), short enough to test it.
      scheduler: { tickMs: 200, heartbeatTimeoutMs: 6000 },
    });
    const fail = (w: { command: string[] }) => (w.command.includes("--fail") ? "healthcheck_failed" : null);
    for (const hostname of ["n1", "n2"]) {
      nodes.push(
        await startSimNode(t.server.url, {
          operatorAuth: ops,
          hostname,
          memory_bytes: 8 * GiB,
          cpu_cores: 4,
          heartbeatMs: 300,
          bootMs: 150,
          drainMs: 100,
          fail,
        }),
      );
    }
    const org = await t.call("POST", "/v1/orgs", { auth: alice, body: { name: "e2e" } });
    orgId = String(org.body.org_id);
    const app = await t.call("POST", `/v1/orgs/${orgId}/apps`, { auth: alice, body: { name: "shop" } });
    appUrl = `/v1/orgs/${orgId}/apps/${app.body.app_id}`;
    const env = await t.call("POST", `${appUrl}/envs`, { auth: alice, body: { name: "prod" } });
    envId = String(env.body.env_id);
    envUrl = `${appUrl}/envs/${envId}`;
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await t?.close();
  });

  test("a first deploy places web 1 and worker 3 spread over both nodes and succeeds", async () => {
    const v1 = await release(["/bin/server", "--v1"]);
    await scale(3);
    const d = await deploy(v1);
    const rs = await settled({ web: 1, worker: 3 }, v1);
    assert.equal(new Set(ready(rs).map((r) => r.node_id)).size, 2, "replicas are spread");
    await until("deploy succeeded", async () => (await deployStatus(d)).status === "succeeded");
  });

  test("a rollout never drops the ready workers below 3 (compliance 40) and ends on the new release", async () => {
    v2 = await release(["/bin/server", "--v2"]);
    const d = await deploy(v2);
    let lowest = Number.POSITIVE_INFINITY;
    const old = new Set((await rows()).map((r) => r.instance_id));
    await until(
      "rollout done",
      async () => {
        const rs = await rows();
        lowest = Math.min(lowest, ready(rs).length);
        return (await deployStatus(d)).status === "succeeded";
      },
      30_000,
    );
    assert.ok(lowest >= 3, `ready workers dropped to ${lowest}`);
    const rs = await settled({ web: 1, worker: 3 }, v2);
    assert.ok(
      rs.every((r) => !old.has(r.instance_id)),
      "every instance is new: never changed in place",
    );
  });

  test("a secret change replaces every instance of the env with new ids carrying the version (compliance 41)", async () => {
    const before = new Set((await rows()).map((r) => r.instance_id));
    const put = await t.call("PUT", `${envUrl}/secrets`, { auth: alice, body: { values: { TOKEN: "one" } } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const version = String(put.body.current_version_id);
    const rs = await until("every instance on the new secrets", async () => {
      const now = await settled({ web: 1, worker: 3 }, v2);
      return now.every((r) => r.secrets_version_id === version) ? now : null;
    });
    assert.ok(rs.every((r) => !before.has(r.instance_id)));
  });

  test("a failing release fails its deploy and leaves the old instances serving", async () => {
    const bad = await release(["/bin/server", "--fail"]);
    const d = await deploy(bad);
    const failed = await until(
      "deploy failed",
      async () => {
        const s = await deployStatus(d);
        return s.status === "failed" ? s : null;
      },
      30_000,
    );
    assert.ok(
      ["too_many_failures", "crash_loop_backoff"].includes(String(failed.failed_reason)),
      JSON.stringify(failed),
    );
    const rs = await rows();
    assert.equal(ready(rs).filter((r) => r.release_id === v2).length, 3, "the old workers still serve");
    assert.equal(ready(rs, "web").filter((r) => r.release_id === v2).length, 1);
    // Back to the good release: its instances are already there.
    const rb = await t.call("POST", `${envUrl}/rollbacks`, { auth: alice, body: { release_id: v2 } });
    assert.equal(rb.status, 201, JSON.stringify(rb.body));
    await until(
      "rollback succeeded",
      async () => (await deployStatus(String(rb.body.deploy_id))).status === "succeeded",
    );
    await settled({ web: 1, worker: 3 }, v2);
  });

  test("a node going silent is marked offline and its instances are replaced on the other node", async () => {
    const [n1, n2] = nodes as [SimNode, SimNode];
    await n1.stopHeartbeats();
    await until("n1 offline", async () => {
      const r = await t.call("GET", `/v1/nodes/${n1.nodeId}`, { auth: ops });
      return r.body.state === "offline";
    });
    // The views may still show n1's instances for a moment: wait for the replacement.
    const rs = await until("everything on n2", async () => {
      const now = await settled({ web: 1, worker: 3 }, v2);
      return now.every((r) => r.node_id === n2.nodeId) ? now : null;
    });
    assert.equal(ready(rs).length, 3);
    n1.resumeHeartbeats();
    await until("n1 active again", async () => {
      const r = await t.call("GET", `/v1/nodes/${n1.nodeId}`, { auth: ops });
      return r.body.state === "active";
    });
  });

  test("a stateful process follows its volume; draining its node moves the stateless ones and names the stateful one", async () => {
    const [n1, n2] = nodes as [SimNode, SimNode];
    const vol = await t.call("POST", `/v1/orgs/${orgId}/volumes`, {
      auth: alice,
      body: { size_bytes: GiB, home_node_id: n1.nodeId },
    });
    assert.equal(vol.status, 201, JSON.stringify(vol.body));
    const volumeId = String(vol.body.volume_id);
    const av = await t.call("POST", `/v1/nodes/${n1.nodeId}/volumes/${volumeId}/status`, {
      auth: `Bearer ${n1.credential}`,
      body: { state: "available" },
    });
    assert.equal(av.status, 200, JSON.stringify(av.body));
    const att = await t.call("POST", `${envUrl}/volume-attachments`, {
      auth: alice,
      body: { volume_id: volumeId, process_type: "web", mount_path: "/data" },
    });
    assert.equal(att.status, 201, JSON.stringify(att.body));
    // The mount changes web's spec: drain first, then the new web lands on the volume's home.
    const web = await until("web on n1", async () => {
      const rs = await settled({ web: 1, worker: 3 });
      const w = ready(rs, "web")[0];
      return w?.node_id === n1.nodeId ? w : null;
    });

    const node = await t.call("GET", `/v1/nodes/${n1.nodeId}`, { auth: ops });
    const drain = await t.call("PATCH", `/v1/nodes/${n1.nodeId}`, {
      auth: ops,
      body: { state: "draining", reason: "maintenance", expected_version: node.body.resource_version },
    });
    assert.equal(drain.status, 200, JSON.stringify(drain.body));
    const rs = await until("workers moved off n1", async () => {
      const now = await settled({ web: 1, worker: 3 });
      return ready(now).every((r) => r.node_id === n2.nodeId) ? now : null;
    });
    assert.equal(ready(rs, "web")[0]?.instance_id, web.instance_id, "the stateful web stays");
    const held = await t.call("GET", `/v1/nodes/${n1.nodeId}`, { auth: ops });
    assert.deepEqual(held.body.drain_blocked_by, [{ instance_id: web.instance_id, volume_id: volumeId }]);
  });

  test("scale to zero stops every worker; scaling back brings two up", async () => {
    await scale(0);
    await settled({ web: 1, worker: 0 });
    await scale(2);
    await settled({ web: 1, worker: 2 });
    for (const n of nodes) assert.equal(n.lastError, null, String(n.lastError));
  });
});
