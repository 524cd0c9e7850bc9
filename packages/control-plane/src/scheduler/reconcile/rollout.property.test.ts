// Rollouts simulated against a fake world: apply each decision, let new
// instances turn ready (or fail) after a few ticks and drains finish, and check
// the §6.3 invariants at every step (compliance 40).
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { reconcileGroup } from "./rollout.ts";
import { group, inst, NEW, OLD, T0 } from "./rollout-fixtures.ts";
import type { Decision, DeployFacts, GroupFacts, InstanceFact } from "./rollout-types.ts";

interface Scenario {
  D: number;
  old: number;
  matching: number;
  stateful: boolean;
  surgePossible: boolean;
  healthy: boolean;
  delays: number[];
}

const scenario: fc.Arbitrary<Scenario> = fc
  .record({
    D: fc.integer({ min: 1, max: 6 }),
    old: fc.integer({ min: 0, max: 7 }),
    matching: fc.integer({ min: 0, max: 2 }),
    stateful: fc.boolean(),
    surgePossible: fc.boolean(),
    healthy: fc.boolean(),
    delays: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 8 }),
  })
  // Mounted processes have at most one replica (§5), and one instance of each spec at most.
  .map((s) =>
    s.stateful
      ? { ...s, D: 1, old: Math.min(s.old, 1), matching: s.old > 0 ? 0 : Math.min(s.matching, 1) }
      : s,
  );

class World {
  step = 0;
  seq = 0;
  instances: InstanceFact[] = [];
  /** Step at which an instance moves on (ready / failed / stopped). */
  due = new Map<string, number>();
  failures: { at_ms: number; reason_code: string }[] = [];
  deploy: DeployFacts = { deploy_id: "dep_1", status: "queued", created_at_ms: T0, process_count: 1 };
  constructor(readonly s: Scenario) {
    for (let i = 0; i < s.old; i++) this.instances.push(inst(this.id(), { spec_hash: OLD }));
    for (let i = 0; i < s.matching; i++) this.instances.push(inst(this.id()));
  }
  id(): string {
    return `inst_${String(this.seq++).padStart(4, "0")}`;
  }
  get now(): number {
    return T0 + this.step * 5_000;
  }
  facts(): GroupFacts {
    return group({
      desired_replicas: this.s.D,
      stateful: this.s.stateful,
      surge_possible: this.s.surgePossible,
      deploy: this.deploy,
      instances: this.instances,
      failures_this_deploy: this.failures,
      now_ms: this.now,
    });
  }
  ready(spec?: string): number {
    return this.instances.filter(
      (i) =>
        i.desired_state === "running" && i.status === "ready" && (spec === undefined || i.spec_hash === spec),
    ).length;
  }
  apply(d: Decision): void {
    const byId = new Map(this.instances.map((i) => [i.instance_id, i]));
    for (const x of d.drain) {
      const i = byId.get(x.instance_id) as InstanceFact;
      byId.set(i.instance_id, { ...i, desired_state: "draining", drain_started_at_ms: this.now });
      this.due.set(i.instance_id, this.step + 1);
    }
    for (const id of d.stop) byId.set(id, { ...(byId.get(id) as InstanceFact), desired_state: "stopped" });
    this.instances = [...byId.values()];
    for (let n = 0; n < d.allocate; n++) {
      const id = this.id();
      this.instances.push(
        inst(id, { status: "allocated", created_at_ms: this.now, updated_at_ms: this.now }),
      );
      this.due.set(id, this.step + (this.s.delays[this.seq % this.s.delays.length] as number));
    }
    if (d.deploy_status) this.deploy = { ...this.deploy, status: d.deploy_status.status };
  }
  /** The agents' side: boots finish (or fail), drains finish. */
  advance(): void {
    this.step++;
    this.instances = this.instances.map((i) => {
      if ((this.due.get(i.instance_id) ?? Infinity) > this.step) return i;
      if (i.desired_state === "draining" && i.status !== "stopped" && i.status !== "failed") {
        return { ...i, status: "stopped" };
      }
      if (i.desired_state !== "running" || i.status !== "allocated") return i;
      if (this.s.healthy) return { ...i, status: "ready" };
      this.failures.push({ at_ms: this.now, reason_code: "healthcheck_failed" });
      return { ...i, status: "failed", reason_code: "healthcheck_failed" };
    });
  }
}

function checkDecision(w: World, d: Decision): void {
  const before = new Map(w.instances.map((i) => [i.instance_id, i]));
  const drained = d.drain.map((x) => x.instance_id);
  assert.equal(new Set(drained).size, drained.length, "an instance is drained at most once per decision");
  for (const id of drained)
    assert.equal(before.get(id)?.desired_state, "running", `drain of ${id} not running`);
  for (const id of d.stop) {
    const i = before.get(id);
    assert.equal(i?.desired_state, "draining", `stop of ${id} without a drain first`);
  }
  assert.ok(d.allocate >= 0 && Number.isInteger(d.allocate));
}

test("rollouts converge to D ready matching instances without dropping ready instances", () => {
  fc.assert(
    fc.property(scenario, (s) => {
      const w = new World(s);
      const floor = Math.min(s.D, w.ready());
      const guarded = !s.stateful && (s.D > 1 || s.surgePossible);
      for (let n = 0; n < 200 && w.deploy.status !== "succeeded" && w.deploy.status !== "failed"; n++) {
        const d = reconcileGroup(w.facts());
        checkDecision(w, d);
        w.apply(d);
        if (s.healthy && guarded)
          assert.ok(w.ready() >= floor, `ready ${w.ready()} < ${floor} at step ${w.step}`);
        if (s.stateful) {
          const live = w.instances.filter((i) => i.desired_state === "running" && i.status !== "failed");
          assert.ok(live.length <= 1, "a volume never has two live instances");
        }
        w.advance();
      }
      const allocated = w.seq > s.old + s.matching;
      if (!s.healthy && allocated) {
        assert.equal(w.deploy.status, "failed");
        return;
      }
      assert.equal(w.deploy.status, "succeeded", `no convergence: ${JSON.stringify(w.facts().instances)}`);
      const live = w.instances.filter((i) => i.desired_state !== "stopped" && i.status !== "stopped");
      assert.ok(live.every((i) => i.spec_hash === NEW && i.status === "ready"));
      assert.equal(live.length, s.D);
    }),
    { numRuns: 400 },
  );
});

test("the same facts always give the same decision", () => {
  fc.assert(
    fc.property(scenario, fc.integer({ min: 0, max: 10 }), (s, steps) => {
      const w = new World(s);
      for (let n = 0; n < steps; n++) {
        w.apply(reconcileGroup(w.facts()));
        w.advance();
      }
      const f = w.facts();
      assert.deepEqual(reconcileGroup(f), reconcileGroup(structuredClone(f)));
    }),
    { numRuns: 200 },
  );
});
