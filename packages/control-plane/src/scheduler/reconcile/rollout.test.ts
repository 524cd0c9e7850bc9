// The §6.3 rules of reconcileGroup, one decision at a time.
import assert from "node:assert/strict";
import { test } from "node:test";
import { reconcileGroup } from "./rollout.ts";
import { group, inst, NEW, OLD, T0 } from "./rollout-fixtures.ts";
import type { DeployFacts } from "./rollout-types.ts";
import { victimOrder } from "./victims.ts";

const deploy = (status: DeployFacts["status"], over: Partial<DeployFacts> = {}): DeployFacts => ({
  deploy_id: "dep_1",
  status,
  created_at_ms: T0,
  process_count: 1,
  ...over,
});
const drains = (d: ReturnType<typeof reconcileGroup>) => d.drain.map((x) => `${x.instance_id}:${x.reason}`);

test("scale up with nothing old: the whole shortfall at once, and the queued deploy starts rolling", () => {
  const d = reconcileGroup(group({ desired_replicas: 3, deploy: deploy("queued") }));
  assert.equal(d.allocate, 3);
  assert.deepEqual(d.drain, []);
  assert.equal(d.deploy_status?.status, "rolling");
});

test("stateless rollout: surge one, drain one old per new ready, never below D ready", () => {
  const old = ["a", "b", "c"].map((id, n) => inst(id, { spec_hash: OLD, created_at_ms: T0 + n }));
  let d = reconcileGroup(group({ desired_replicas: 3, instances: old }));
  assert.equal(d.allocate, 1);
  assert.deepEqual(d.drain, []);
  // The surge instance is booting: nothing more until it is ready.
  d = reconcileGroup(group({ desired_replicas: 3, instances: [...old, inst("n1", { status: "booting" })] }));
  assert.equal(d.allocate, 0);
  assert.deepEqual(d.drain, []);
  // Ready: the oldest old one goes and the next surge is allocated in the same decision.
  d = reconcileGroup(group({ desired_replicas: 3, instances: [...old, inst("n1")] }));
  assert.deepEqual(drains(d), ["a:rollout_replace"]);
  assert.equal(d.allocate, 1);
});

test("old instances that are not ready go at once", () => {
  const d = reconcileGroup(
    group({
      desired_replicas: 2,
      instances: [inst("a", { spec_hash: OLD }), inst("b", { spec_hash: OLD, status: "booting" })],
    }),
  );
  assert.deepEqual(drains(d), ["b:rollout_replace"]);
  assert.equal(d.allocate, 2, "b's slot is free again: matching + old stays ≤ D + 1");
});

test("scale-down victims: failed → not ready → oldest → most loaded node → smallest id", () => {
  const xs = [
    inst("r_new", { created_at_ms: T0 + 5 }),
    inst("r_old_light", { created_at_ms: T0, node_id: "n1" }),
    inst("r_old_heavy_b", { created_at_ms: T0, node_id: "n2" }),
    inst("r_old_heavy_a", { created_at_ms: T0, node_id: "n2" }),
    inst("booting", { status: "booting", created_at_ms: T0 + 9 }),
    inst("failed", { status: "failed", created_at_ms: T0 + 9 }),
  ];
  assert.deepEqual(
    victimOrder(xs, { n1: 1, n2: 4 }).map((i) => i.instance_id),
    ["failed", "booting", "r_old_heavy_a", "r_old_heavy_b", "r_old_light", "r_new"],
  );
  const d = reconcileGroup(
    group({ desired_replicas: 2, instances: xs.slice(0, 5), node_load: { n1: 1, n2: 4 } }),
  );
  assert.deepEqual(drains(d), ["booting:scale_down", "r_old_heavy_a:scale_down", "r_old_heavy_b:scale_down"]);
  assert.equal(d.allocate, 0);
});

test("desired 0, or no desired release, drains everything", () => {
  const xs = [inst("a"), inst("b", { spec_hash: OLD }), inst("c", { node_state: "draining" })];
  for (const g of [
    group({ desired_replicas: 0, instances: xs }),
    group({ group_spec_hash: null, desired_release_id: null, instances: xs }),
  ]) {
    const d = reconcileGroup(g);
    assert.deepEqual(drains(d).sort(), ["a:scale_down", "b:scale_down", "c:scale_down"]);
    assert.equal(d.allocate, 0);
  }
});

test("one replica without room to surge drains first and says so; with more replicas it waits instead", () => {
  const one = reconcileGroup(
    group({ surge_possible: false, instances: [inst("a", { spec_hash: OLD })], deploy: deploy("queued") }),
  );
  assert.deepEqual(drains(one), ["a:rollout_replace"]);
  assert.equal(one.allocate, 1);
  assert.match(one.deploy_status?.message ?? "", /draining the old instance first/);
  const two = reconcileGroup(
    group({
      desired_replicas: 2,
      surge_possible: false,
      instances: [inst("a", { spec_hash: OLD }), inst("b", { spec_hash: OLD })],
    }),
  );
  assert.deepEqual(two.drain, [], "compliance 40: never below D ready with replicas > 1");
  assert.equal(two.allocate, 1);
  const surge = reconcileGroup(
    group({ instances: [inst("a", { spec_hash: OLD })], deploy: deploy("queued") }),
  );
  assert.deepEqual(surge.drain, []);
  assert.equal(surge.allocate, 1);
  assert.doesNotMatch(surge.deploy_status?.message ?? "", /draining the old/);
});

test("stateful: drain the old first, allocate only once it stopped (or was forced after grace + 30 s)", () => {
  const base = { stateful: true };
  let d = reconcileGroup(group({ ...base, instances: [inst("a", { spec_hash: OLD })] }));
  assert.deepEqual(drains(d), ["a:rollout_replace"]);
  assert.equal(d.allocate, 0);
  const leaving = inst("a", {
    spec_hash: OLD,
    desired_state: "draining",
    status: "draining",
    drain_started_at_ms: T0,
  });
  d = reconcileGroup(group({ ...base, instances: [leaving], now_ms: T0 + 39_999 }));
  assert.deepEqual(d.stop, []);
  assert.equal(d.allocate, 0);
  d = reconcileGroup(group({ ...base, instances: [leaving], now_ms: T0 + 40_000 }));
  assert.deepEqual(d.stop, ["a"], "forced: 10 s grace + 30 s");
  assert.equal(d.allocate, 1);
  d = reconcileGroup(group({ ...base, instances: [{ ...leaving, status: "stopped" }], now_ms: T0 + 1 }));
  assert.deepEqual(d.stop, ["a"]);
  assert.equal(d.allocate, 1);
  // Custom grace is honoured.
  d = reconcileGroup(
    group({ ...base, instances: [{ ...leaving, drain_grace_seconds: 60 }], now_ms: T0 + 80_000 }),
  );
  assert.deepEqual(d.stop, []);
});

test("lost nodes: stateless replaced at once; stateful stays and blocks once", () => {
  const d = reconcileGroup(
    group({
      desired_replicas: 2,
      instances: [inst("a", { node_state: "offline" }), inst("b", { node_state: "disabled" })],
    }),
  );
  assert.deepEqual(drains(d), ["a:node_offline", "b:node_disabled"]);
  assert.deepEqual(d.stop, ["a", "b"]);
  assert.equal(d.allocate, 2);
  const s = group({ stateful: true, instances: [inst("v", { node_state: "offline", node_id: "node_h" })] });
  const first = reconcileGroup(s);
  assert.deepEqual(first.drain, []);
  assert.deepEqual(first.stop, []);
  assert.equal(first.allocate, 0);
  assert.equal(first.block?.reason, "volume_home_node_offline");
  assert.match(first.block?.detail ?? "", /node_h/);
  const again = reconcileGroup({ ...s, last_recorded_block: "volume_home_node_offline" });
  assert.equal(again.block, undefined);
  assert.equal(again.unblock, undefined);
  // The edge is not repeated, but the level stays: the caller must not read "no edge" as "not blocked".
  assert.equal(again.blocked?.reason, "volume_home_node_offline");
  // Back online: the block clears once.
  const back = reconcileGroup({
    ...s,
    instances: [inst("v")],
    last_recorded_block: "volume_home_node_offline",
  });
  assert.equal(back.unblock, true);
  // A drain already under way on a lost node is closed at once for stateless groups.
  const leaving = inst("x", {
    desired_state: "draining",
    status: "draining",
    node_state: "offline",
    drain_started_at_ms: T0,
  });
  assert.deepEqual(reconcileGroup(group({ instances: [leaving], now_ms: T0 + 1 })).stop, ["x"]);
});

test("draining node: stateless replaced by surge first, then drained node_draining; stateful reported blocked", () => {
  const a = inst("a", { node_state: "draining" });
  let d = reconcileGroup(group({ instances: [a] }));
  assert.deepEqual(d.drain, []);
  assert.equal(d.allocate, 1);
  d = reconcileGroup(group({ instances: [a, inst("b")] }));
  assert.deepEqual(drains(d), ["a:node_draining"]);
  assert.equal(d.allocate, 0);
  d = reconcileGroup(group({ stateful: true, instances: [a] }));
  assert.deepEqual(d.drain_blocked, ["a"]);
  assert.deepEqual(d.drain, []);
  assert.equal(d.allocate, 0);
});

test("failed instances are replaced up to 3 times in 10 min; then the old ones keep serving and the deploy fails", () => {
  const old = inst("o", { spec_hash: OLD });
  const failed = inst("f", { status: "failed", reason_code: "healthcheck_failed" });
  const fail = (at: number) => ({ at_ms: at, reason_code: "healthcheck_failed" });
  const now = T0 + 20 * 60_000;
  let d = reconcileGroup(
    group({
      instances: [old, failed],
      failures_this_deploy: [fail(now - 1), fail(now - 2), fail(now - 3)],
      now_ms: now,
    }),
  );
  assert.deepEqual(drains(d), ["f:failed_replace"]);
  assert.equal(d.allocate, 1);
  const four = [fail(now - 1), fail(now - 2), fail(now - 3), fail(now - 4)];
  d = reconcileGroup(
    group({
      instances: [old, failed],
      failures_this_deploy: four,
      now_ms: now,
      deploy: deploy("rolling", { created_at_ms: now - 60_000 }),
    }),
  );
  assert.deepEqual(drains(d), ["f:failed_replace"], "the old instance is not touched");
  assert.equal(d.allocate, 0);
  assert.equal(d.deploy_status?.status, "failed");
  assert.equal(d.deploy_status?.failed_reason, "too_many_failures");
  // Failures older than the window no longer count.
  const stale = four.map((f) => ({ ...f, at_ms: now - 11 * 60_000 }));
  assert.equal(
    reconcileGroup(group({ instances: [old], failures_this_deploy: stale, now_ms: now })).allocate,
    1,
  );
  // One crash loop is enough.
  d = reconcileGroup(
    group({
      instances: [old],
      failures_this_deploy: [{ at_ms: now - 1, reason_code: "crash_loop_backoff" }],
      now_ms: now,
      deploy: deploy("queued", { created_at_ms: now - 1000 }),
    }),
  );
  assert.equal(d.allocate, 0);
  assert.equal(d.deploy_status?.failed_reason, "crash_loop_backoff");
});

test("deploy: succeeded only once matching ready = D and every old instance has stopped", () => {
  const dep = deploy("rolling");
  const leavingOld = inst("o", {
    spec_hash: OLD,
    desired_state: "draining",
    status: "draining",
    drain_started_at_ms: T0 + 50_000,
  });
  let d = reconcileGroup(group({ deploy: dep, instances: [inst("n"), leavingOld] }));
  assert.equal(d.deploy_status, undefined);
  d = reconcileGroup(group({ deploy: dep, instances: [inst("n"), { ...leavingOld, status: "stopped" }] }));
  assert.deepEqual(d.stop, ["o"]);
  assert.equal(d.deploy_status?.status, "succeeded");
  // A queued deploy with nothing to do goes to rolling first (queued → succeeded is not a transition).
  d = reconcileGroup(group({ deploy: deploy("queued"), instances: [inst("n")] }));
  assert.equal(d.deploy_status?.status, "rolling");
  // Finished deploys get no verdict; unfinished ones time out after 10 min per process type.
  assert.equal(
    reconcileGroup(group({ deploy: deploy("succeeded"), instances: [inst("n")] })).deploy_status,
    undefined,
  );
  const late = group({ deploy: deploy("rolling", { process_count: 2 }), now_ms: T0 + 20 * 60_000 + 1 });
  assert.equal(reconcileGroup(late).deploy_status?.failed_reason, "timeout");
  assert.equal(
    reconcileGroup({ ...late, now_ms: T0 + 20 * 60_000 }).deploy_status,
    undefined,
    "not yet late",
  );
});

test("blocks are edge-triggered; a secrets block freezes the rollout and old instances keep serving", () => {
  const g = group({
    instances: [inst("a", { spec_hash: OLD })],
    blocked_reason_now: { reason: "secrets_missing", detail: "process web requires secrets" },
  });
  const d = reconcileGroup(g);
  assert.deepEqual(d.block, { reason: "secrets_missing", detail: "process web requires secrets" });
  assert.equal(d.allocate, 0);
  assert.deepEqual(d.drain, []);
  assert.equal(reconcileGroup({ ...g, last_recorded_block: "secrets_missing" }).block, undefined);
  const other = reconcileGroup({
    ...g,
    last_recorded_block: "secrets_missing",
    blocked_reason_now: { reason: "no_capacity_memory", detail: "x" },
  });
  assert.equal(other.block?.reason, "no_capacity_memory");
  assert.equal(other.allocate, 1, "placement blocks are re-tried by placement itself");
  const cleared = reconcileGroup({
    ...g,
    blocked_reason_now: null,
    last_recorded_block: "no_capacity_memory",
  });
  assert.equal(cleared.unblock, true);
  assert.equal(reconcileGroup({ ...g, blocked_reason_now: null }).unblock, undefined);
});

test("instances already desired stopped are ignored; NEW spec matching is by hash only", () => {
  const d = reconcileGroup(
    group({
      instances: [inst("s", { desired_state: "stopped", status: "stopped" }), inst("m", { spec_hash: NEW })],
    }),
  );
  assert.deepEqual(d, { allocate: 0, drain: [], stop: [], drain_blocked: [], blocked: null });
});
