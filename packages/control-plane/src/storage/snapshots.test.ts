// Snapshots end to end over HTTP. The node reports that move them along are
// made by calling the report commands directly (their HTTP endpoints are
// tested in node-reports.test.ts).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { isKernelError, newId } from "@plfm/kernel";
import { reportSnapshotStatus } from "./snapshot-commands.ts";
import {
  assertProblem,
  availableVolume,
  dev,
  eventually,
  GiB,
  type Harness,
  makeOrg,
  nodeA,
  nodeB,
  ok,
  startHarness,
  succeededSnapshot,
} from "./test-kit.ts";
import { reportVolumeState } from "./volume-commands.ts";

let h: Harness;
let orgA: string;
let orgB: string;
const alice = dev("alice@example.com");
const bob = dev("bob@example.com");
const rita = dev("rita@example.com");
const SNAP_ID = /^snap_[0-9A-HJKMNP-TV-Z]{26}$/;
const volPath = (org: string, vol: string) => `/v1/orgs/${org}/volumes/${vol}`;

before(async () => {
  h = await startHarness();
  orgA = await makeOrg(h, "alice@example.com", "snap-a", [["rita@example.com", "readonly"]]);
  orgB = await makeOrg(h, "bob@example.com", "snap-b");
});
after(async () => h?.close());

describe("snapshots", () => {
  test("snapshot: 202 queued on the home node; read and list show it; a second is 409 snapshot_in_progress", async () => {
    const vol = await availableVolume(h, orgA, alice);
    const r = await h.call("POST", `${volPath(orgA, vol)}/snapshots`, {
      auth: alice,
      body: { note: "before upgrade" },
    });
    const s = ok(r, 202);
    assert.match(String(s.snapshot_id), SNAP_ID);
    assert.equal(s.status, "queued");
    assert.equal(s.source_node_id, nodeA);
    assert.equal(s.volume_id, vol);
    assert.equal(s.consistency, "crash");
    assert.equal(s.note, "before upgrade");
    assert.deepEqual(
      ok(await h.call("GET", `/v1/orgs/${orgA}/snapshots/${s.snapshot_id}`, { auth: alice }), 200),
      s,
    );
    const list = ok(await h.call("GET", `${volPath(orgA, vol)}/snapshots`, { auth: alice }), 200);
    assert.deepEqual(list.items, [s]);
    const before = await h.eventCount();
    assertProblem(
      await h.call("POST", `${volPath(orgA, vol)}/snapshots`, { auth: alice, body: {} }),
      409,
      "snapshot_in_progress",
    );
    await reportSnapshotStatus(h.nodeCtx(nodeA), nodeA, String(s.snapshot_id), { status: "running" });
    assertProblem(
      await h.call("POST", `${volPath(orgA, vol)}/snapshots`, { auth: alice, body: {} }),
      409,
      "snapshot_in_progress",
    );
    await reportSnapshotStatus(h.nodeCtx(nodeA), nodeA, String(s.snapshot_id), {
      status: "failed",
      failed_reason: "upload_failed",
    });
    assert.equal(await h.eventCount(), before + 2);
    ok(await h.call("POST", `${volPath(orgA, vol)}/snapshots`, { auth: alice, body: {} }), 202);
    const failed = await eventually(
      h,
      `/v1/orgs/${orgA}/snapshots/${s.snapshot_id}`,
      alice,
      (b) => b.status === "failed",
    );
    assert.equal(failed.failed_reason, "upload_failed");
  });

  test("only an available volume of the org is snapshotted", async () => {
    const creating = ok(
      await h.call("POST", `/v1/orgs/${orgA}/volumes`, {
        auth: alice,
        body: { size_bytes: GiB, home_node_id: nodeA },
      }),
      201,
    );
    assertProblem(
      await h.call("POST", `${volPath(orgA, String(creating.volume_id))}/snapshots`, {
        auth: alice,
        body: {},
      }),
      409,
      "conflict",
    );
    assertProblem(
      await h.call("POST", `${volPath(orgA, newId("vol"))}/snapshots`, { auth: alice, body: {} }),
      404,
      "not_found",
    );
    assertProblem(
      await h.call("GET", `${volPath(orgA, newId("vol"))}/snapshots`, { auth: alice }),
      404,
      "not_found",
    );
    assertProblem(
      await h.call("GET", `/v1/orgs/${orgA}/snapshots/${newId("snap")}`, { auth: alice }),
      404,
      "not_found",
    );
  });

  test("bad bodies are 400 with the field, and write nothing", async () => {
    const vol = await availableVolume(h, orgA, alice);
    const before = await h.eventCount();
    const cases: [unknown, string][] = [
      [{ consistency: "application" }, "consistency"],
      [{ note: "n".repeat(257) }, "note"],
      [{ note: 7 }, "note"],
      [{ colour: "red" }, "colour"],
    ];
    for (const [body, field] of cases) {
      assertProblem(
        await h.call("POST", `${volPath(orgA, vol)}/snapshots`, { auth: alice, body }),
        400,
        "invalid_argument",
        field,
      );
    }
    assert.equal(await h.eventCount(), before);
  });

  test("idempotency keys are scoped by volume: a replay appends nothing, another body is refused", async () => {
    const v1 = await availableVolume(h, orgA, alice);
    const v2 = await availableVolume(h, orgA, alice);
    const key = "snapshot-key-0001";
    const first = ok(
      await h.call("POST", `${volPath(orgA, v1)}/snapshots`, { auth: alice, body: {}, key }),
      202,
    );
    const before = await h.eventCount();
    const again = await h.call("POST", `${volPath(orgA, v1)}/snapshots`, { auth: alice, body: {}, key });
    assert.equal(again.status, 202);
    assert.equal(again.headers.get("idempotency-replayed"), "true");
    assert.deepEqual(again.body, first);
    assert.equal(await h.eventCount(), before);
    assertProblem(
      await h.call("POST", `${volPath(orgA, v1)}/snapshots`, { auth: alice, body: { note: "x" }, key }),
      409,
      "idempotency_key_reuse",
    );
    // The same key on another volume is another request.
    const other = ok(
      await h.call("POST", `${volPath(orgA, v2)}/snapshots`, { auth: alice, body: {}, key }),
      202,
    );
    assert.notEqual(other.snapshot_id, first.snapshot_id);
    assert.equal(other.volume_id, v2);
  });

  test("other orgs get 403 on the org and 404 through their own; readonly cannot snapshot or restore", async () => {
    const vol = await availableVolume(h, orgA, alice);
    const snap = await succeededSnapshot(h, alice, orgA, vol);
    assertProblem(
      await h.call("GET", `/v1/orgs/${orgA}/snapshots/${snap}`, { auth: bob }),
      403,
      "org_access_denied",
    );
    assertProblem(
      await h.call("GET", `${volPath(orgA, vol)}/snapshots`, { auth: bob }),
      403,
      "org_access_denied",
    );
    assertProblem(await h.call("GET", `/v1/orgs/${orgB}/snapshots/${snap}`, { auth: bob }), 404, "not_found");
    assertProblem(
      await h.call("POST", `${volPath(orgB, vol)}/snapshots`, { auth: bob, body: {} }),
      404,
      "not_found",
    );
    assertProblem(
      await h.call("POST", `${volPath(orgB, vol)}/restore`, { auth: bob, body: { snapshot_id: snap } }),
      404,
      "not_found",
    );
    assert.equal((await h.call("GET", `/v1/orgs/${orgA}/snapshots/${snap}`, { auth: rita })).status, 200);
    assertProblem(
      await h.call("POST", `${volPath(orgA, vol)}/snapshots`, { auth: rita, body: {} }),
      403,
      "insufficient_scope",
    );
    assertProblem(
      await h.call("POST", `${volPath(orgA, vol)}/restore`, { auth: rita, body: { snapshot_id: snap } }),
      403,
      "insufficient_scope",
    );
  });

  test("node reports follow the state machine and come only from the source node", async () => {
    const vol = await availableVolume(h, orgA, alice);
    const s = ok(await h.call("POST", `${volPath(orgA, vol)}/snapshots`, { auth: alice, body: {} }), 202);
    const id = String(s.snapshot_id);
    const rejects = (p: Promise<unknown>, code: string) =>
      assert.rejects(p, (err) => isKernelError(err, code as "conflict"));
    await rejects(reportSnapshotStatus(h.nodeCtx(nodeB), nodeB, id, { status: "running" }), "forbidden");
    await rejects(
      reportSnapshotStatus(h.nodeCtx(nodeA), nodeA, id, { status: "succeeded", size_bytes: 1 }),
      "conflict",
    );
    await rejects(
      reportSnapshotStatus(h.nodeCtx(nodeA), nodeA, id, { status: "failed" }),
      "invalid_argument",
    );
    const running = await reportSnapshotStatus(h.nodeCtx(nodeA), nodeA, id, { status: "running" });
    assert.equal(running.response.status, "running");
    const before = await h.eventCount();
    await reportSnapshotStatus(h.nodeCtx(nodeA), nodeA, id, { status: "running" });
    assert.equal(await h.eventCount(), before, "a repeated report appends nothing");
    await reportVolumeState(h.nodeCtx(nodeA), nodeA, vol, { state: "error", reason: "pool lost" });
    const v = await eventually(h, volPath(orgA, vol), alice, (b) => b.state === "error");
    assert.equal(v.state_reason, "pool lost");
  });
});
