// Stuck states of deploys and instances (spec §4.4 `GET /_debug/stuck`) and
// the repairs they point to: each repair appends a corrective event and
// edits nothing. Detection is judged at a chosen `now` (findStuck is pure
// over time); the repairs run over HTTP as an operator would run them.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { releaseBody } from "../apps/release-test-kit.ts";
import { allocateInstance } from "../apps/test-allocate.ts";
import { bearer, type EnrolledNode, enrollNode, OPERATOR_EMAIL } from "../fleet/test-kit.ts";
import { assertProblem, startTestServer, type TestServer, user } from "../tenancy/http-test-kit.ts";
import { drainLimitMs, findStuck, STUCK_LIMITS } from "./stuck.ts";

const alice = user("alice@example.com");
const ops = user(OPERATOR_EMAIL);
const MIN = 60_000;

describe("stuck deploys and instances", () => {
  let t: TestServer;
  let node: EnrolledNode;
  let scope = { orgId: "", appId: "", envId: "" };
  let envUrl = "";
  const later = (ms: number) => new Date(Date.now() + ms);
  const stuckIds = async (kind: string, at: Date) =>
    (await findStuck(t.db.pool, at)).filter((s) => s.kind === kind).map((s) => s.ids[0]);
  const events = async (aggregateId: string) =>
    (
      await t.db.pool.query(
        "SELECT event_type, payload FROM events WHERE aggregate_id = $1 ORDER BY aggregate_seq",
        [aggregateId],
      )
    ).rows as { event_type: string; payload: Record<string, unknown> }[];

  before(async () => {
    t = await startTestServer([OPERATOR_EMAIL]);
    node = await enrollNode(t);
    const org = await t.call("POST", "/v1/orgs", { auth: alice, body: { name: "stuck" } });
    const orgId = String(org.body.org_id);
    const app = await t.call("POST", `/v1/orgs/${orgId}/apps`, { auth: alice, body: { name: "shop" } });
    const appId = String(app.body.app_id);
    const env = await t.call("POST", `/v1/orgs/${orgId}/apps/${appId}/envs`, {
      auth: alice,
      body: { name: "prod" },
    });
    scope = { orgId, appId, envId: String(env.body.env_id) };
    envUrl = `/v1/orgs/${orgId}/apps/${appId}/envs/${scope.envId}`;
  });
  after(() => t?.close());

  test("a deploy past 10 min per process type is listed; failing it appends one deploy.status_changed", async () => {
    const rel = await t.call("POST", `/v1/orgs/${scope.orgId}/apps/${scope.appId}/releases`, {
      auth: alice,
      body: releaseBody(),
    });
    assert.equal(rel.status, 201, JSON.stringify(rel.body));
    const dep = await t.call("POST", `${envUrl}/deploys`, {
      auth: alice,
      body: { release_id: rel.body.release_id },
    });
    assert.equal(dep.status, 201, JSON.stringify(dep.body));
    const deployId = String(dep.body.deploy_id);
    // Two process types (web, worker): 20 minutes before it is past its timeout.
    assert.deepEqual(await stuckIds("deploy_past_timeout", later(15 * MIN)), []);
    assert.deepEqual(await stuckIds("deploy_past_timeout", later(21 * MIN)), [deployId]);
    const item = (await findStuck(t.db.pool, later(21 * MIN))).find((s) => s.ids[0] === deployId);
    assert.equal(item?.fix_command, `plfm admin deploys fail ${deployId}`);

    const url = `/v1/_debug/deploys/${deployId}/fail`;
    assertProblem(await t.call("POST", url, { auth: alice }), 403, "insufficient_scope");
    const r = await t.call("POST", url, { auth: ops, key: "fail-deploy-1" });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { deploy_id: deployId, status: "failed", failed_reason: "timeout" });
    const again = await t.call("POST", url, { auth: ops, key: "fail-deploy-1" });
    assert.equal(again.headers.get("idempotency-replayed"), "true");
    const read = await t.call("GET", `${envUrl}/deploys/${deployId}`, { auth: alice });
    assert.equal(read.body.status, "failed");
    assert.equal(read.body.failed_reason, "timeout");
    const types = (await events(deployId)).map((e) => e.event_type);
    assert.deepEqual(types, ["deploy.created", "deploy.status_changed"]);
    assert.deepEqual(await stuckIds("deploy_past_timeout", later(21 * MIN)), []);
    assertProblem(await t.call("POST", url, { auth: ops }), 409, "conflict");
  });

  test("an instance never started is listed with a restart; one never stopping, with a forced stop", async () => {
    const fresh = await allocateInstance(t, { ...scope, nodeId: node.nodeId });
    const booting = await allocateInstance(t, { ...scope, nodeId: node.nodeId });
    const status = await t.call("POST", `/v1/nodes/${node.nodeId}/instances/${booting}/status`, {
      auth: bearer(node.credential),
      body: { status: "booting", reported_at: new Date().toISOString() },
    });
    assert.equal(status.status, 200, JSON.stringify(status.body));
    // Within the startup limit, nothing; past it, both (allocated and booting share 120 s).
    assert.deepEqual(await stuckIds("instance_stuck", later(STUCK_LIMITS.phaseMs.booting - 10_000)), []);
    const past = later(STUCK_LIMITS.phaseMs.booting + 10_000);
    assert.deepEqual((await stuckIds("instance_stuck", past)).sort(), [fresh, booting].sort());
    const fix = (await findStuck(t.db.pool, past)).find((s) => s.ids[0] === booting)?.fix_command;
    assert.equal(
      fix,
      `plfm instances restart ${booting} --org ${scope.orgId} --app ${scope.appId} --env ${scope.envId}`,
    );

    // The restart drains it; a drain the node never finishes is stuck after grace + slack.
    const restart = await t.call("POST", `${envUrl}/instances/${booting}/restart`, { auth: alice });
    assert.equal(restart.status, 202, JSON.stringify(restart.body));
    const drainLimit = drainLimitMs(10, STUCK_LIMITS);
    assert.ok(!(await stuckIds("instance_stuck", later(drainLimit - 5_000))).includes(booting));
    const stuck = (await findStuck(t.db.pool, later(drainLimit + 5_000))).find((s) => s.ids[0] === booting);
    assert.equal(stuck?.fix_command, `plfm admin instances stop ${booting}`);

    const stop = await t.call("POST", `/v1/_debug/instances/${booting}/stop`, { auth: ops });
    assert.equal(stop.status, 200, JSON.stringify(stop.body));
    const read = await t.call("GET", `${envUrl}/instances/${booting}`, { auth: alice });
    assert.equal(read.body.desired_state, "stopped");
    assert.equal(read.body.status, "booting", "the node's last report is kept, not rewritten");
    const history = await events(booting);
    assert.deepEqual(
      history.map((e) => [e.event_type, e.payload.desired_state ?? e.payload.status]),
      [
        ["instance.allocated", "running"],
        ["instance.status_changed", "booting"],
        ["instance.desired_state_changed", "draining"],
        ["instance.desired_state_changed", "stopped"],
      ],
    );
    assert.ok(!(await stuckIds("instance_stuck", later(60 * MIN))).includes(booting));
    // A second forced stop appends nothing; an unknown instance is 404.
    assert.equal((await t.call("POST", `/v1/_debug/instances/${booting}/stop`, { auth: ops })).status, 200);
    assert.equal((await events(booting)).length, 4);
    assertProblem(
      await t.call("POST", "/v1/_debug/instances/inst_01J00000000000000000000000/stop", { auth: ops }),
      404,
      "not_found",
    );
  });
});
