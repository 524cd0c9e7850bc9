// The pure instance rules: status reports (§7.2, §7.3, compliance 42) and restarts.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isKernelError } from "@plfm/kernel";
import {
  decideRestart,
  decideStatusReport,
  INSTANCE_STATUSES,
  type InstanceState,
  type InstanceStatus,
  initialInstance,
  type StatusReport,
} from "./instance.ts";

const IDS = { instanceId: "inst_01", nodeId: "node_A" };
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const state = (over: Partial<InstanceState> = {}): InstanceState => ({
  ...initialInstance(),
  exists: true,
  orgId: "org_1",
  appId: "app_1",
  envId: "env_1",
  nodeId: "node_A",
  ...over,
});
const report = (status: InstanceStatus, over: Partial<StatusReport> = {}): StatusReport => ({
  status,
  reported_at: at(10),
  ...over,
});
const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (isKernelError(err)) return err.code;
    throw err;
  }
  return "ok";
};

describe("decideStatusReport", () => {
  test("a change appends instance.status_changed with the aggregate's ids", () => {
    const [e] = decideStatusReport(state(), IDS, report("preparing", { boot_id: "boot_1" }));
    assert.equal(e?.eventType, "instance.status_changed");
    assert.deepEqual(e?.payload, {
      instance_id: "inst_01",
      org_id: "org_1",
      env_id: "env_1",
      node_id: "node_A",
      status: "preparing",
      boot_id: "boot_1",
      reported_at: at(10),
    });
    assert.equal(e?.envId, "env_1");
  });

  test("the same status and boot_id appends nothing; a new boot_id does", () => {
    const s = state({ status: "ready", bootId: "boot_1", reportedAt: at(5) });
    assert.deepEqual(decideStatusReport(s, IDS, report("ready", { boot_id: "boot_1" })), []);
    assert.deepEqual(decideStatusReport(s, IDS, report("ready")), []);
    assert.equal(decideStatusReport(s, IDS, report("ready", { boot_id: "boot_2" })).length, 1);
  });

  test("failed needs a reason_code", () => {
    assert.equal(
      code(() => decideStatusReport(state(), IDS, report("failed"))),
      "invalid_argument",
    );
    const ev = decideStatusReport(state(), IDS, report("failed", { reason_code: "oom_killed" }));
    assert.equal(ev[0]?.payload.reason_code, "oom_killed");
  });

  test("stopped and failed are terminal: any other report is a conflict, the same one a no-op", () => {
    for (const terminal of ["stopped", "failed"] as const) {
      const s = state({ status: terminal, reportedAt: at(5) });
      for (const next of INSTANCE_STATUSES) {
        const r = report(next, next === "failed" ? { reason_code: "workload_exited" } : {});
        if (next === terminal) assert.deepEqual(decideStatusReport(s, IDS, r), []);
        else
          assert.equal(
            code(() => decideStatusReport(s, IDS, r)),
            "conflict",
            `${terminal}→${next}`,
          );
      }
    }
  });

  test("unknown instance 404, another node's instance 403, stale report ignored, no way back to allocated", () => {
    assert.equal(
      code(() => decideStatusReport(initialInstance(), IDS, report("ready"))),
      "not_found",
    );
    assert.equal(
      code(() => decideStatusReport(state({ nodeId: "node_B" }), IDS, report("ready"))),
      "forbidden",
    );
    const s = state({ status: "ready", reportedAt: at(20) });
    assert.deepEqual(decideStatusReport(s, IDS, report("draining", { reported_at: at(10) })), []);
    assert.equal(
      code(() => decideStatusReport(s, IDS, report("allocated", { reported_at: at(30) }))),
      "conflict",
    );
    assert.equal(
      code(() => decideStatusReport(s, IDS, report("draining", { reported_at: "yesterday" }))),
      "invalid_argument",
    );
  });
});

describe("decideRestart", () => {
  test("a running instance drains with reason operator_restart; a draining one needs nothing", () => {
    const [e] = decideRestart(state({ status: "ready" }), "inst_01");
    assert.equal(e?.eventType, "instance.desired_state_changed");
    assert.equal(e?.payload.desired_state, "draining");
    assert.equal(e?.payload.reason, "operator_restart");
    assert.deepEqual(decideRestart(state({ desiredState: "draining" }), "inst_01"), []);
  });

  test("a stopped or failed instance cannot be restarted", () => {
    assert.equal(
      code(() => decideRestart(state({ status: "stopped" }), "inst_01")),
      "conflict",
    );
    assert.equal(
      code(() => decideRestart(state({ status: "failed" }), "inst_01")),
      "conflict",
    );
  });
});
