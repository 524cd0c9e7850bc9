// End to end: agents' storage reports over HTTP (spec platform.md §10, §4.4
// `POST /v1/nodes/{node}/volumes|snapshots|restore-jobs/{id}/status`). Only
// the node doing the work reports; each change is one event; a repeat is none.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { bearer, type EnrolledNode, enrollNode, OPERATOR_EMAIL } from "../fleet/test-kit.ts";
import { assertProblem, startTestServer, type TestServer, user } from "../tenancy/http-test-kit.ts";

const alice = user("alice@example.com");
const GiB = 1024 ** 3;

describe("node storage reports", () => {
  let t: TestServer;
  let home: EnrolledNode;
  let other: EnrolledNode;
  let orgId = "";
  const report = (node: EnrolledNode, path: string, body: unknown) =>
    t.call("POST", `/v1/nodes/${node.nodeId}/${path}/status`, { auth: bearer(node.credential), body });
  const eventTypes = async (aggregateId: string): Promise<string[]> =>
    (
      await t.db.pool.query("SELECT event_type FROM events WHERE aggregate_id = $1 ORDER BY aggregate_seq", [
        aggregateId,
      ])
    ).rows.map((r) => r.event_type);

  async function activeNode(hostname: string): Promise<EnrolledNode> {
    const n = await enrollNode(t, { hostname });
    const hb = await t.call("POST", `/v1/nodes/${n.nodeId}/heartbeat`, {
      auth: bearer(n.credential),
      body: {},
    });
    assert.equal(hb.status, 200, JSON.stringify(hb.body));
    return n;
  }

  async function volume(): Promise<string> {
    const r = await t.call("POST", `/v1/orgs/${orgId}/volumes`, {
      auth: alice,
      body: { size_bytes: GiB, home_node_id: home.nodeId },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return String(r.body.volume_id);
  }

  before(async () => {
    t = await startTestServer([OPERATOR_EMAIL]);
    home = await activeNode("home");
    other = await activeNode("other");
    const org = await t.call("POST", "/v1/orgs", { auth: alice, body: { name: "stor" } });
    orgId = String(org.body.org_id);
  });
  after(() => t?.close());

  test("the home node reports a volume available; a repeat appends nothing; the API shows it", async () => {
    const vol = await volume();
    const r = await report(home, `volumes/${vol}`, { state: "available" });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.state, "available");
    assert.equal((await report(home, `volumes/${vol}`, { state: "available" })).status, 200);
    assert.deepEqual(await eventTypes(vol), ["volume.created", "volume.state_changed"]);
    const read = await t.call("GET", `/v1/orgs/${orgId}/volumes/${vol}`, { auth: alice });
    assert.equal(read.body.state, "available");
  });

  test("another node, a user token and an unknown volume are refused, and nothing is written", async () => {
    const vol = await volume();
    assertProblem(await report(other, `volumes/${vol}`, { state: "available" }), 403, "forbidden");
    assertProblem(
      await t.call("POST", `/v1/nodes/${home.nodeId}/volumes/${vol}/status`, {
        auth: alice,
        body: { state: "available" },
      }),
      401,
      "invalid_token",
    );
    assertProblem(
      await report(home, "volumes/vol_01J00000000000000000000000", { state: "available" }),
      404,
      "not_found",
    );
    assertProblem(await report(home, `volumes/${vol}`, { state: "in_use" }), 400, "invalid_argument");
    assert.deepEqual(await eventTypes(vol), ["volume.created"]);
  });

  test("a snapshot moves queued → running → succeeded by its source node's reports", async () => {
    const vol = await volume();
    await report(home, `volumes/${vol}`, { state: "available" });
    const s = await t.call("POST", `/v1/orgs/${orgId}/volumes/${vol}/snapshots`, { auth: alice, body: {} });
    assert.equal(s.status, 202, JSON.stringify(s.body));
    const snap = String(s.body.snapshot_id);
    assertProblem(await report(other, `snapshots/${snap}`, { status: "running" }), 403, "forbidden");
    assert.equal((await report(home, `snapshots/${snap}`, { status: "running" })).body.status, "running");
    const done = await report(home, `snapshots/${snap}`, { status: "succeeded", size_bytes: 8192 });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.status, "succeeded");
    assert.equal(done.body.size_bytes, 8192);
    // A finished snapshot is terminal: a late `running` is an invalid transition, not a rewrite.
    const late = await report(home, `snapshots/${snap}`, { status: "running" });
    assert.equal(late.status, 409, JSON.stringify(late.body));
    assert.deepEqual(await eventTypes(snap), [
      "snapshot.created",
      "snapshot.status_changed",
      "snapshot.status_changed",
    ]);
  });

  test("a restore's target node reports it failed; any other node is refused", async () => {
    const vol = await volume();
    await report(home, `volumes/${vol}`, { state: "available" });
    const s = await t.call("POST", `/v1/orgs/${orgId}/volumes/${vol}/snapshots`, { auth: alice, body: {} });
    const snap = String(s.body.snapshot_id);
    await report(home, `snapshots/${snap}`, { status: "running" });
    await report(home, `snapshots/${snap}`, { status: "succeeded", size_bytes: 1 });
    const r = await t.call("POST", `/v1/orgs/${orgId}/volumes/${vol}/restore`, {
      auth: alice,
      body: { snapshot_id: snap, target_node_id: other.nodeId },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const job = String(r.body.restore_id);
    const failed = { status: "failed", failed_reason: "download_failed" };
    assertProblem(await report(home, `restore-jobs/${job}`, failed), 403, "forbidden");
    assertProblem(await report(other, `restore-jobs/${job}`, { status: "failed" }), 400, "invalid_argument");
    const ok = await report(other, `restore-jobs/${job}`, failed);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.status, "failed");
    assert.equal(ok.body.failed_reason, "download_failed");
    assert.deepEqual(await eventTypes(job), ["restore_job.created", "restore_job.status_changed"]);
  });
});
