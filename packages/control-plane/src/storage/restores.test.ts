// Restore jobs end to end over HTTP. Snapshots are brought to `succeeded`
// (and jobs to `failed`) by calling the report commands directly, as their
// node endpoints will.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { newId } from "@plfm/kernel";
import { reportRestoreStatus } from "./restore-commands.ts";
import { reportSnapshotStatus } from "./snapshot-commands.ts";
import {
  assertProblem,
  availableVolume,
  dev,
  GiB,
  type Harness,
  makeOrg,
  nodeA,
  nodeB,
  ok,
  startHarness,
  succeededSnapshot,
} from "./test-kit.ts";

let h: Harness;
let orgA: string;
let orgB: string;
const alice = dev("alice@example.com");
const bob = dev("bob@example.com");
const RJOB_ID = /^rjob_[0-9A-HJKMNP-TV-Z]{26}$/;
const volPath = (org: string, vol: string) => `/v1/orgs/${org}/volumes/${vol}`;

before(async () => {
  h = await startHarness();
  orgA = await makeOrg(h, "alice@example.com", "rjob-a");
  orgB = await makeOrg(h, "bob@example.com", "rjob-b");
});
after(async () => h?.close());

describe("restores", () => {
  test("restore of a succeeded snapshot: 202 queued; read shows it; its new name is reserved", async () => {
    const vol = await availableVolume(h, orgA, alice);
    const snap = await succeededSnapshot(h, alice, orgA, vol);
    const body = { snapshot_id: snap, new_volume_name: "restored", target_node_id: nodeB };
    const job = ok(await h.call("POST", `${volPath(orgA, vol)}/restore`, { auth: alice, body }), 202);
    assert.match(String(job.restore_id), RJOB_ID);
    assert.deepEqual(
      { ...job, restore_id: "", created_at: "", updated_at: "" },
      {
        restore_id: "",
        org_id: orgA,
        snapshot_id: snap,
        source_volume_id: vol,
        new_volume_name: "restored",
        target_node_id: nodeB,
        status: "queued",
        new_volume_id: null,
        failed_reason: null,
        resource_version: 1,
        created_at: "",
        updated_at: "",
      },
    );
    assert.deepEqual(
      ok(await h.call("GET", `/v1/orgs/${orgA}/restore-jobs/${job.restore_id}`, { auth: alice }), 200),
      job,
    );
    assertProblem(
      await h.call("POST", `/v1/orgs/${orgA}/volumes`, {
        auth: alice,
        body: { name: "restored", size_bytes: GiB, home_node_id: nodeA },
      }),
      409,
      "conflict",
      "name",
    );
    const failed = await reportRestoreStatus(h.nodeCtx(nodeB), String(job.restore_id), {
      status: "failed",
      failed_reason: "download_failed",
    });
    assert.equal(failed.response.status, "failed");
    ok(
      await h.call("POST", `/v1/orgs/${orgA}/volumes`, {
        auth: alice,
        body: { name: "restored", size_bytes: GiB, home_node_id: nodeA },
      }),
      201,
    );
  });

  test("only a succeeded snapshot of that volume restores", async () => {
    const vol = await availableVolume(h, orgA, alice);
    const queued = ok(
      await h.call("POST", `${volPath(orgA, vol)}/snapshots`, { auth: alice, body: {} }),
      202,
    );
    const restore = (v: string, body: unknown) =>
      h.call("POST", `${volPath(orgA, v)}/restore`, { auth: alice, body });
    const before = await h.eventCount();
    assertProblem(await restore(vol, { snapshot_id: queued.snapshot_id }), 409, "conflict", "snapshot_id");
    await reportSnapshotStatus(h.nodeCtx(nodeA), nodeA, String(queued.snapshot_id), {
      status: "failed",
      failed_reason: "preflight_failed:pool_low_space",
    });
    assertProblem(await restore(vol, { snapshot_id: queued.snapshot_id }), 409, "conflict", "snapshot_id");
    const other = await availableVolume(h, orgA, alice);
    const good = await succeededSnapshot(h, alice, orgA, vol);
    assertProblem(await restore(other, { snapshot_id: good }), 400, "invalid_argument", "snapshot_id");
    assertProblem(await restore(vol, { snapshot_id: newId("snap") }), 404, "not_found", "snapshot_id");
    assertProblem(await restore(newId("vol"), { snapshot_id: good }), 404, "not_found");
    const bobVol = await availableVolume(h, orgB, bob);
    const bobSnap = ok(
      await h.call("POST", `${volPath(orgB, bobVol)}/snapshots`, { auth: bob, body: {} }),
      202,
    );
    assertProblem(await restore(vol, { snapshot_id: bobSnap.snapshot_id }), 404, "not_found", "snapshot_id");
    const cases: [unknown, string][] = [
      [{}, "snapshot_id"],
      [{ snapshot_id: "snap_nope" }, "snapshot_id"],
      [{ snapshot_id: good, new_volume_name: "Bad_Name" }, "new_volume_name"],
      [{ snapshot_id: good, target_node_id: "node_x" }, "target_node_id"],
      [{ snapshot_id: good, colour: "red" }, "colour"],
    ];
    for (const [body, field] of cases)
      assertProblem(await restore(vol, body), 400, "invalid_argument", field);
    // The refused restores appended nothing: only the set-up did (the failed report 1,
    // a volume made available 2, a snapshot run to success 3, bob's volume 2 and snapshot 1).
    assert.equal((await h.eventCount()) - before, 1 + 2 + 3 + 2 + 1);
    const job = ok(await restore(vol, { snapshot_id: good }), 202);
    assert.equal(job.target_node_id, null);
    assertProblem(
      await h.call("GET", `/v1/orgs/${orgA}/restore-jobs/${newId("rjob")}`, { auth: alice }),
      404,
      "not_found",
    );
    assertProblem(
      await h.call("GET", `/v1/orgs/${orgB}/restore-jobs/${job.restore_id}`, { auth: bob }),
      404,
      "not_found",
    );
  });

  test("restore keys are scoped by snapshot: a replay appends nothing, another body is refused", async () => {
    const vol = await availableVolume(h, orgA, alice);
    const snap = await succeededSnapshot(h, alice, orgA, vol);
    const key = "restore-key-0001";
    const path = `${volPath(orgA, vol)}/restore`;
    const first = ok(await h.call("POST", path, { auth: alice, body: { snapshot_id: snap }, key }), 202);
    const before = await h.eventCount();
    const again = await h.call("POST", path, { auth: alice, body: { snapshot_id: snap }, key });
    assert.equal(again.headers.get("idempotency-replayed"), "true");
    assert.deepEqual(again.body, first);
    assert.equal(await h.eventCount(), before);
    assertProblem(
      await h.call("POST", path, { auth: alice, body: { snapshot_id: snap, new_volume_name: "x" }, key }),
      409,
      "idempotency_key_reuse",
    );
  });
});
