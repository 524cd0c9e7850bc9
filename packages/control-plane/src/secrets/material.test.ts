// End to end: the node-facing material endpoint (spec platform.md §4.4
// `GET /v1/nodes/{node}/secrets/{version}`, §9.3, compliance 45). Only a node
// hosting a live instance that uses the version reads it; each delivery is
// audited; the value never reaches a log.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { allocateInstance } from "../apps/test-allocate.ts";
import { bearer, type EnrolledNode, enrollNode, OPERATOR_EMAIL } from "../fleet/test-kit.ts";
import { assertProblem, startTestServer, type TestServer, user } from "../tenancy/http-test-kit.ts";

const PLANTED = "s3cr3t-material-VALUE-91f2";
const alice = user("alice@example.com");

describe("GET /v1/nodes/{node}/secrets/{version}", () => {
  let t: TestServer;
  let node1: EnrolledNode;
  let node2: EnrolledNode;
  let scope = { orgId: "", appId: "", envId: "" };
  let versionId = "";
  let instanceId = "";
  const materialUrl = (node: string, version = versionId) => `/v1/nodes/${node}/secrets/${version}`;

  before(async () => {
    t = await startTestServer([OPERATOR_EMAIL]);
    const org = await t.call("POST", "/v1/orgs", { auth: alice, body: { name: "acme" } });
    const orgId = String(org.body.org_id);
    const app = await t.call("POST", `/v1/orgs/${orgId}/apps`, { auth: alice, body: { name: "web" } });
    const appId = String(app.body.app_id);
    const env = await t.call("POST", `/v1/orgs/${orgId}/apps/${appId}/envs`, {
      auth: alice,
      body: { name: "prod" },
    });
    const envId = String(env.body.env_id);
    scope = { orgId, appId, envId };
    const put = await t.call("PUT", `/v1/orgs/${orgId}/apps/${appId}/envs/${envId}/secrets`, {
      auth: alice,
      body: { values: { DB_PASSWORD: PLANTED, MODE: "prod" } },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    versionId = String(put.body.current_version_id);
    node1 = await enrollNode(t, { hostname: "w1" });
    node2 = await enrollNode(t, { hostname: "w2" });
    instanceId = await allocateInstance(t, { ...scope, nodeId: node1.nodeId, secretsVersionId: versionId });
  });
  after(() => t?.close());

  test("the hosting node reads the canonical file, and the delivery is audited", async () => {
    const r = await t.call("GET", materialUrl(node1.nodeId), { auth: bearer(node1.credential) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.version_id, versionId);
    assert.equal(r.body.format, "platform_env_v1");
    assert.match(String(r.body.data), /^# PLFM_SECRETS_V1\n/);
    assert.ok(String(r.body.data).includes(`DB_PASSWORD=${PLANTED}`));
    assert.match(String(r.body.data_hash), /^[0-9a-f]{64}$/);
    assert.equal(r.headers.get("cache-control"), "no-store");
    const { rows } = await t.db.pool.query(
      "SELECT actor_type, actor_id, details::text AS details FROM audit_log WHERE action = 'secret_version.delivered' AND target_id = $1",
      [versionId],
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0].actor_type, "node");
    assert.equal(rows[0].actor_id, node1.nodeId);
    assert.ok(!rows[0].details.includes(PLANTED));
  });

  test("a node without an instance using the version gets 403, as does an unknown version", async () => {
    assertProblem(
      await t.call("GET", materialUrl(node2.nodeId), { auth: bearer(node2.credential) }),
      403,
      "forbidden",
    );
    assertProblem(
      await t.call("GET", materialUrl(node1.nodeId, "sv_01J00000000000000000000000"), {
        auth: bearer(node1.credential),
      }),
      403,
      "forbidden",
    );
  });

  test("another node's credential, a user token and no token are refused", async () => {
    assertProblem(
      await t.call("GET", materialUrl(node1.nodeId), { auth: bearer(node2.credential) }),
      403,
      "forbidden",
    );
    assertProblem(await t.call("GET", materialUrl(node1.nodeId), { auth: alice }), 401, "invalid_token");
    assertProblem(await t.call("GET", materialUrl(node1.nodeId)), 401, "unauthorized");
  });

  test("once the instance has stopped, its node loses access", async () => {
    const stopped = await t.call("POST", `/v1/nodes/${node1.nodeId}/instances/${instanceId}/status`, {
      auth: bearer(node1.credential),
      body: { status: "stopped", reported_at: new Date().toISOString() },
    });
    assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
    // The view catches up asynchronously; the rule reads it.
    const deadline = Date.now() + 10_000;
    let r = await t.call("GET", materialUrl(node1.nodeId), { auth: bearer(node1.credential) });
    while (r.status === 200 && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 50));
      r = await t.call("GET", materialUrl(node1.nodeId), { auth: bearer(node1.credential) });
    }
    assertProblem(r, 403, "forbidden");
  });

  test("the planted value appears in no log line and no event", async () => {
    assert.ok(!JSON.stringify(t.logLines).includes(PLANTED));
    const { rows } = await t.db.pool.query(
      "SELECT count(*)::int AS n FROM events WHERE payload::text LIKE $1",
      [`%${PLANTED}%`],
    );
    assert.equal(rows[0].n, 0);
  });
});
