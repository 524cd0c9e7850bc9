// The storage state machines and the pure decisions built on them: no database.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isKernelError, type NewEvent, type StoredEvent } from "@plfm/kernel";
import fc from "fast-check";
import { decideCreateRestore, decideRestoreReport, evolveRestore, initialRestore } from "./restore.ts";
import { decideCreateSnapshot, decideSnapshotReport, evolveSnapshot, initialSnapshot } from "./snapshot.ts";
import {
  canTransition,
  checkRestoreReport,
  checkSnapshotReport,
  checkTransition,
  isTerminal,
  publicVolumeState,
  RESTORE_MACHINE,
  SNAPSHOT_MACHINE,
  SNAPSHOT_STATUSES,
  VOLUME_MACHINE,
  VOLUME_STATES,
} from "./state-machines.ts";
import {
  decideCreateVolume,
  decideDeleteVolume,
  decideVolumeReport,
  evolveVolume,
  initialVolume,
} from "./volume.ts";

const throwsCode = (fn: () => unknown, code: string, field?: string) =>
  assert.throws(fn, (err: unknown) => {
    assert.ok(isKernelError(err), String(err));
    assert.equal(err.code, code, err.message);
    if (field !== undefined)
      assert.ok(
        err.details?.some((d) => d.field === field),
        JSON.stringify(err.details),
      );
    return true;
  });

let seq = 0;
/** Folds new events as if stored, for decisions on the resulting state. */
function fold<S>(evolve: (s: S, e: StoredEvent) => S, s: S, events: NewEvent[]): S {
  return events.reduce(
    (acc, e) =>
      evolve(acc, {
        ...e,
        eventId: BigInt(++seq),
        txId: 1n,
        occurredAt: new Date(),
        aggregateSeq: seq,
        eventVersion: 1,
        actorType: "system",
        actorId: "test",
        requestId: "req_test",
        orgId: e.orgId ?? null,
        appId: null,
        envId: null,
        correlationId: null,
        causationId: null,
        idempotencyKey: null,
      }),
    s,
  );
}

test("volume transitions: exactly the documented edges", () => {
  const edges = VOLUME_STATES.flatMap((a) =>
    VOLUME_STATES.filter((b) => canTransition(VOLUME_MACHINE, a, b)).map((b) => `${a}>${b}`),
  );
  assert.deepEqual(edges.sort(), [
    "available>deleting",
    "available>error",
    "creating>available",
    "creating>deleting",
    "creating>error",
    "deleting>deleted",
    "deleting>error",
    "error>available",
    "error>deleting",
  ]);
  assert.ok(isTerminal(VOLUME_MACHINE, "deleted"));
  assert.ok(!isTerminal(VOLUME_MACHINE, "error"));
});

test("snapshot and restore transitions: queued → running → succeeded|failed, queued → failed; ends are terminal", () => {
  for (const m of [SNAPSHOT_MACHINE, RESTORE_MACHINE]) {
    assert.deepEqual(m.queued, ["running", "failed"]);
    assert.deepEqual(m.running, ["succeeded", "failed"]);
    assert.ok(isTerminal(m, "succeeded") && isTerminal(m, "failed"));
    assert.ok(!canTransition(m, "running", "queued"));
    assert.ok(!canTransition(m, "queued", "succeeded"), "no success without running");
  }
});

test("checkTransition: same is a no-op, allowed is a change, anything else 409 conflict", () => {
  assert.equal(checkTransition(SNAPSHOT_MACHINE, "snapshot", "running", "running"), "same");
  assert.equal(checkTransition(SNAPSHOT_MACHINE, "snapshot", "queued", "running"), "change");
  throwsCode(
    () => checkTransition(SNAPSHOT_MACHINE, "snapshot", "succeeded", "failed"),
    "conflict",
    "status",
  );
  throwsCode(() => checkTransition(VOLUME_MACHINE, "volume", "deleted", "available"), "conflict");
});

test("property: any sequence of snapshot reports stays on the machine's edges, and terminal stays terminal", () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...SNAPSHOT_STATUSES), { maxLength: 12 }), (reports) => {
      let s = fold(evolveSnapshot, initialSnapshot(), [
        ...decideCreateSnapshot(initialSnapshot(), "snap_1", {
          orgId: "org_1",
          volumeId: "vol_1",
          sourceNodeId: "n",
        }),
      ]);
      for (const status of reports) {
        const before = s.status;
        const report = {
          status,
          ...(status === "failed" ? { failed_reason: "upload_failed" } : {}),
          ...(status === "succeeded" ? { size_bytes: 42 } : {}),
        };
        let events: NewEvent[] = [];
        try {
          events = decideSnapshotReport(s, "snap_1", "n", report);
        } catch (err) {
          assert.ok(isKernelError(err, "conflict"));
          assert.ok(!canTransition(SNAPSHOT_MACHINE, before, status) && before !== status);
          continue;
        }
        s = fold(evolveSnapshot, s, events);
        assert.ok(s.status === before || canTransition(SNAPSHOT_MACHINE, before, s.status));
        if (isTerminal(SNAPSHOT_MACHINE, before)) assert.equal(s.status, before);
      }
    }),
  );
});

test("publicVolumeState refines only available volumes", () => {
  assert.equal(publicVolumeState("available", "none"), "available");
  assert.equal(publicVolumeState("available", "starting"), "attaching");
  assert.equal(publicVolumeState("available", "running"), "in_use");
  assert.equal(publicVolumeState("available", "stopping"), "detaching");
  assert.equal(publicVolumeState("creating", "running"), "creating");
  assert.equal(publicVolumeState("deleting", "none"), "deleting");
});

test("report rules: failed needs a reason, succeeded a size, running restore a new volume", () => {
  throwsCode(() => checkSnapshotReport({ status: "failed" }), "invalid_argument", "failed_reason");
  throwsCode(() => checkSnapshotReport({ status: "succeeded" }), "invalid_argument", "size_bytes");
  throwsCode(
    () => checkSnapshotReport({ status: "running", failed_reason: "x" }),
    "invalid_argument",
    "failed_reason",
  );
  throwsCode(
    () => checkSnapshotReport({ status: "failed", failed_reason: "disk_read_failed:/var/lib/x" }),
    "invalid_argument",
    "failed_reason",
  );
  checkSnapshotReport({ status: "failed", failed_reason: "quiesce_failed:timeout" });
  checkSnapshotReport({ status: "succeeded", size_bytes: 10 });
  throwsCode(() => checkRestoreReport({ status: "running" }), "invalid_argument", "new_volume_id");
  throwsCode(
    () => checkRestoreReport({ status: "failed", failed_reason: "oops" }),
    "invalid_argument",
    "failed_reason",
  );
  checkRestoreReport({ status: "failed", failed_reason: "decrypt_failed" });
  checkRestoreReport({ status: "running", new_volume_id: "vol_x" });
});

const spec = {
  name: "data",
  size_bytes: 1024 ** 3,
  filesystem: "ext4" as const,
  backup_enabled: true,
  home_node_id: "node_a",
};

test("volume decisions: home node required, delete refused while attached, reports only from home", () => {
  throwsCode(
    () => decideCreateVolume(initialVolume(), "vol_1", "org_1", { ...spec, home_node_id: "" }),
    "no_capacity",
  );
  throwsCode(
    () => decideCreateVolume(initialVolume(), "vol_1", "org_1", { ...spec, size_bytes: 1 }),
    "invalid_argument",
    "size_bytes",
  );
  const created = decideCreateVolume(initialVolume(), "vol_1", "org_1", spec);
  assert.equal(created[0]?.payload.home_node_id, "node_a");
  const v = fold(evolveVolume, initialVolume(), created);
  throwsCode(() => decideDeleteVolume(v, "vol_1", "org_2", false), "not_found");
  throwsCode(() => decideDeleteVolume(v, "vol_1", "org_1", true), "volume_in_use");
  throwsCode(() => decideVolumeReport(v, "vol_1", "node_b", { state: "available" }), "forbidden");
  const deleting = fold(evolveVolume, v, decideDeleteVolume(v, "vol_1", "org_1", false));
  assert.equal(deleting.state, "deleting");
  assert.deepEqual(decideDeleteVolume(deleting, "vol_1", "org_1", false), [], "a second delete is a no-op");
  throwsCode(() => decideVolumeReport(deleting, "vol_1", "node_a", { state: "available" }), "conflict");
  const gone = fold(
    evolveVolume,
    deleting,
    decideVolumeReport(deleting, "vol_1", "node_a", { state: "deleted" }),
  );
  throwsCode(() => decideDeleteVolume(gone, "vol_1", "org_1", false), "not_found");
});

test("restore decisions: the snapshot must be of the org, of the volume, and succeeded", () => {
  const req = {
    snapshot_id: "snap_1",
    source_volume_id: "vol_1",
    new_volume_name: null,
    target_node_id: null,
  };
  const snap = { exists: true, orgId: "org_1", volumeId: "vol_1", status: "succeeded" };
  throwsCode(
    () => decideCreateRestore(initialRestore(), "rjob_1", "org_1", req, { ...snap, orgId: "org_2" }),
    "not_found",
    "snapshot_id",
  );
  throwsCode(
    () => decideCreateRestore(initialRestore(), "rjob_1", "org_1", req, { ...snap, volumeId: "vol_2" }),
    "invalid_argument",
    "snapshot_id",
  );
  for (const status of ["queued", "running", "failed"]) {
    throwsCode(
      () => decideCreateRestore(initialRestore(), "rjob_1", "org_1", req, { ...snap, status }),
      "conflict",
      "snapshot_id",
    );
  }
  const job = fold(
    evolveRestore,
    initialRestore(),
    decideCreateRestore(initialRestore(), "rjob_1", "org_1", req, snap),
  );
  assert.equal(job.status, "queued");
  const running = fold(
    evolveRestore,
    job,
    decideRestoreReport(job, "rjob_1", { status: "running", new_volume_id: "vol_9" }),
  );
  assert.equal(running.newVolumeId, "vol_9");
  throwsCode(
    () => decideRestoreReport(running, "rjob_1", { status: "running", new_volume_id: "vol_8" }),
    "conflict",
    "new_volume_id",
  );
  const done = fold(evolveRestore, running, decideRestoreReport(running, "rjob_1", { status: "succeeded" }));
  assert.equal(done.status, "succeeded");
  assert.equal(done.newVolumeId, "vol_9");
  throwsCode(
    () => decideRestoreReport(done, "rjob_1", { status: "failed", failed_reason: "write_failed" }),
    "conflict",
  );
});
