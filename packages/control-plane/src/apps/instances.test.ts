// End to end over HTTP: an env's instances (list, filters, paging, read,
// restart) and a node's status reports (spec platform.md §4.4, §7.2, §7.3,
// compliance 42). The scheduler does not exist yet, so instance.allocated is
// appended straight through the kernel, as the scheduler will.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { newId } from "@plfm/kernel";
import { bearer, enrollNode, OPERATOR_EMAIL } from "../fleet/test-kit.ts";
import {
  assertInvalid,
  assertProblem,
  startTestServer,
  type TestServer,
  user,
} from "../tenancy/http-test-kit.ts";
import { allocateInstance } from "./test-allocate.ts";

let t: TestServer;
const alice = user("alice@example.com");
const bob = user("bob@example.com");
const rita = user("rita@example.com");
let orgA = "";
let orgB = "";
let appId = "";
let envId = "";
let envUrl = "";
let node1 = { nodeId: "", credential: "" };
let node2 = { nodeId: "", credential: "" };

async function created(path: string, auth: string, body: unknown, idField: string): Promise<string> {
  const r = await t.call("POST", path, { auth, body });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return String(r.body[idField]);
}

/** Places an instance as the scheduler will, and waits for the view. */
const allocate = (processType: string, nodeId = node1.nodeId): Promise<string> =>
  allocateInstance(t, { orgId: orgA, appId, envId, nodeId, processType });

const statusUrl = (node: string, inst: string) => `/v1/nodes/${node}/instances/${inst}/status`;
let clock = 0;
const report = (node: { nodeId: string; credential: string }, inst: string, body: Record<string, unknown>) =>
  t.call("POST", statusUrl(node.nodeId, inst), {
    auth: bearer(node.credential),
    body: { reported_at: new Date(Date.UTC(2026, 0, 1, 0, 0, ++clock)).toISOString(), ...body },
  });
const instanceEvents = async (id: string) =>
  (
    await t.db.pool.query(
      "SELECT event_type, payload FROM events WHERE aggregate_type = 'instance' AND aggregate_id = $1 ORDER BY event_id",
      [id],
    )
  ).rows as { event_type: string; payload: Record<string, unknown> }[];

before(async () => {
  t = await startTestServer([OPERATOR_EMAIL]);
  orgA = await created("/v1/orgs", alice, { name: "org-a" }, "org_id");
  orgB = await created("/v1/orgs", bob, { name: "org-b" }, "org_id");
  appId = await created(`/v1/orgs/${orgA}/apps`, alice, { name: "shop" }, "app_id");
  envId = await created(`/v1/orgs/${orgA}/apps/${appId}/envs`, alice, { name: "prod" }, "env_id");
  envUrl = `/v1/orgs/${orgA}/apps/${appId}/envs/${envId}`;
  await created(
    `/v1/orgs/${orgA}/members`,
    alice,
    { email: "rita@example.com", role: "readonly" },
    "member_id",
  );
  node1 = await enrollNode(t, { hostname: "worker-1" });
  node2 = await enrollNode(t, { hostname: "worker-2" });
});
after(async () => {
  await t?.close();
});

describe("instances (read side)", () => {
  test("list, filter by process_type and status, page, and read one", async () => {
    const web = [await allocate("web"), await allocate("web"), await allocate("web")];
    const worker = await allocate("worker");
    const ready = await report(node1, web[0] as string, { status: "ready", boot_id: newId("boot") });
    assert.equal(ready.status, 200, JSON.stringify(ready.body));

    const all = await t.call("GET", `${envUrl}/instances`, { auth: rita });
    assert.equal(all.status, 200, JSON.stringify(all.body));
    const ids = (all.body.items as { instance_id: string }[]).map((i) => i.instance_id);
    assert.deepEqual(ids, [...web, worker].sort());

    const workers = await t.call("GET", `${envUrl}/instances?process_type=worker`, { auth: rita });
    assert.deepEqual(
      (workers.body.items as { instance_id: string }[]).map((i) => i.instance_id),
      [worker],
    );
    const readyOnes = await t.call("GET", `${envUrl}/instances?status=ready`, { auth: rita });
    assert.deepEqual(
      (readyOnes.body.items as { instance_id: string }[]).map((i) => i.instance_id),
      [web[0]],
    );
    assertInvalid(await t.call("GET", `${envUrl}/instances?status=running`, { auth: rita }), "status");

    // Paging: two pages of 2 cover the four, in id order, without overlap.
    const p1 = await t.call("GET", `${envUrl}/instances?limit=2`, { auth: rita });
    assert.equal((p1.body.items as unknown[]).length, 2);
    assert.ok(p1.body.next_cursor);
    const p2 = await t.call("GET", `${envUrl}/instances?limit=2&cursor=${p1.body.next_cursor}`, {
      auth: rita,
    });
    const paged = [
      ...(p1.body.items as { instance_id: string }[]),
      ...(p2.body.items as { instance_id: string }[]),
    ];
    assert.deepEqual(
      paged.map((i) => i.instance_id),
      ids,
    );
    assert.equal(p2.body.next_cursor, null);
    assertProblem(
      await t.call("GET", `${envUrl}/instances?cursor=garbage`, { auth: rita }),
      400,
      "invalid_cursor",
    );

    const one = await t.call("GET", `${envUrl}/instances/${worker}`, { auth: rita });
    assert.equal(one.status, 200, JSON.stringify(one.body));
    assert.equal(one.body.instance_id, worker);
    assert.equal(one.body.org_id, orgA);
    assert.equal(one.body.app_id, appId);
    assert.equal(one.body.env_id, envId);
    assert.equal(one.body.process_type, "worker");
    assert.equal(one.body.node_id, node1.nodeId);
    assert.equal(one.body.desired_state, "running");
    assert.equal(one.body.status, "allocated");
    assert.equal(one.body.resource_version, 1);
    assert.deepEqual(one.body.resources_snapshot, {
      cpu_request: 0.5,
      memory_limit_bytes: 268435456,
      ephemeral_disk_bytes: 4294967296,
    });
    assertProblem(
      await t.call("GET", `${envUrl}/instances/${newId("inst")}`, { auth: rita }),
      404,
      "not_found",
    );
  });

  test("another org: non-members get 403, and the instance is not found under another org", async () => {
    const inst = await allocate("web");
    assertProblem(await t.call("GET", `${envUrl}/instances`, { auth: bob }), 403, "org_access_denied");
    assertProblem(
      await t.call("GET", `${envUrl}/instances/${inst}`, { auth: bob }),
      403,
      "org_access_denied",
    );
    const bobApp = await created(`/v1/orgs/${orgB}/apps`, bob, { name: "b" }, "app_id");
    const bobEnv = await created(`/v1/orgs/${orgB}/apps/${bobApp}/envs`, bob, { name: "prod" }, "env_id");
    const foreign = `/v1/orgs/${orgB}/apps/${bobApp}/envs/${bobEnv}/instances/${inst}`;
    assertProblem(await t.call("GET", foreign, { auth: bob }), 404, "not_found");
    assertProblem(await t.call("POST", `${foreign}/restart`, { auth: bob }), 404, "not_found");
    assert.equal((await instanceEvents(inst)).length, 1);
  });

  test("restart drains with operator_restart (202); readonly cannot; replays by key", async () => {
    const inst = await allocate("web");
    const url = `${envUrl}/instances/${inst}/restart`;
    assertProblem(await t.call("POST", url, { auth: rita }), 403, "insufficient_scope");
    const r = await t.call("POST", url, { auth: alice, key: "restart-key-1" });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.deepEqual(r.body, { instance_id: inst, desired_state: "draining", reason: "operator_restart" });
    const again = await t.call("POST", url, { auth: alice, key: "restart-key-1" });
    assert.equal(again.status, 202);
    assert.equal(again.headers.get("idempotency-replayed"), "true");
    const events = await instanceEvents(inst);
    assert.deepEqual(
      events.map((e) => e.event_type),
      ["instance.allocated", "instance.desired_state_changed"],
    );
    assert.equal(events[1]?.payload.reason, "operator_restart");
    assert.equal(events[1]?.payload.env_id, envId);
    // Read-your-writes: the view shows the drain at once.
    const got = await t.call("GET", `${envUrl}/instances/${inst}`, { auth: rita });
    assert.equal(got.body.desired_state, "draining");
    assert.equal(got.body.resource_version, 2);
  });
});

describe("node status reports", () => {
  test("the lifecycle through to stopped; equal reports append nothing; terminal then 409", async () => {
    const inst = await allocate("web");
    const boot = newId("boot");
    for (const status of ["preparing", "booting", "ready"]) {
      const r = await report(node1, inst, { status, boot_id: boot, runtime_id: "runc-1" });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body, { instance_id: inst, status, changed: true });
    }
    const same = await report(node1, inst, { status: "ready", boot_id: boot });
    assert.deepEqual(same.body, { instance_id: inst, status: "ready", changed: false });
    assert.equal((await report(node1, inst, { status: "stopped", exit_code: 0 })).status, 200);
    const view = await t.call("GET", `${envUrl}/instances/${inst}`, { auth: rita });
    assert.equal(view.body.status, "stopped");
    assert.equal(view.body.boot_id, boot);
    assert.equal(view.body.runtime_id, "runc-1");
    assert.equal(view.body.exit_code, 0);
    assertProblem(await report(node1, inst, { status: "ready" }), 409, "conflict");
    assert.equal((await report(node1, inst, { status: "stopped" })).status, 200);
    const types = (await instanceEvents(inst)).map((e) => e.event_type);
    assert.deepEqual(types, ["instance.allocated", ...Array(4).fill("instance.status_changed")]);
  });

  test("compliance 42: failed needs a §3.4 reason_code; only the seven statuses exist", async () => {
    const inst = await allocate("web");
    assertInvalid(await report(node1, inst, { status: "failed" }), "reason_code");
    assertInvalid(await report(node1, inst, { status: "failed", reason_code: "bad_luck" }), "reason_code");
    assertInvalid(await report(node1, inst, { status: "running" }), "status");
    const f = await report(node1, inst, {
      status: "failed",
      reason_code: "oom_killed",
      reason_detail: "137",
    });
    assert.equal(f.status, 200, JSON.stringify(f.body));
    const view = await t.call("GET", `${envUrl}/instances/${inst}`, { auth: rita });
    assert.equal(view.body.status, "failed");
    assert.equal(view.body.reason_code, "oom_killed");
    assert.equal(view.body.reason_detail, "137");
    assertProblem(await report(node1, inst, { status: "preparing" }), 409, "conflict");
    const events = await instanceEvents(inst);
    assert.equal(events.length, 2);
    assert.equal(events[1]?.payload.reason_code, "oom_killed");
    assert.equal(events[1]?.payload.node_id, node1.nodeId);
  });

  test("only the node the instance is allocated to may report", async () => {
    const inst = await allocate("web", node1.nodeId);
    const before = await t.eventCount();
    // node2's credential on node1's path → 403 before anything else.
    const crossed = await t.call("POST", statusUrl(node1.nodeId, inst), {
      auth: bearer(node2.credential),
      body: { status: "ready", reported_at: new Date().toISOString() },
    });
    assertProblem(crossed, 403, "forbidden");
    // node2 on its own path, about node1's instance → 403.
    assertProblem(await report(node2, inst, { status: "ready" }), 403, "forbidden");
    assertProblem(await report(node2, newId("inst"), { status: "ready" }), 404, "not_found");
    const anon = await t.call("POST", statusUrl(node1.nodeId, inst), { body: { status: "ready" } });
    assertProblem(anon, 401, "unauthorized");
    assertProblem(await report(node1, inst, { status: "ready", extra: 1 }), 400, "invalid_argument");
    assert.equal(await t.eventCount(), before);
  });
});
