// End to end over HTTP: a node's plan lists its instances with the §7.2
// WorkloadSpec built from the views, follows drains, drops stopped and failed
// instances, and the plan stream sends a new plan when one is allocated.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DIGEST_A, DIGEST_B, releaseBody } from "../apps/release-test-kit.ts";
import { allocateInstance } from "../apps/test-allocate.ts";
import { workloadSpecProblems } from "../scheduler/reconcile/index.ts";
import { startTestServer, type TestServer } from "../tenancy/http-test-kit.ts";
import type { NodePlan } from "./plan.ts";
import type { PlanInstance } from "./plan-instances.ts";
import { createTenant, OWNER, type Tenant } from "./plan-test-kit.ts";
import { sseMessages } from "./sim-node.ts";
import { bearer, type EnrolledNode, enrollNode, OP, OPERATOR_EMAIL } from "./test-kit.ts";

let t: TestServer;
let tenant: Tenant;
let node: EnrolledNode;
let other: EnrolledNode;
let armNode: EnrolledNode;
before(async () => {
  t = await startTestServer([OPERATOR_EMAIL]);
  tenant = await createTenant(t);
  node = await enrollNode(t, { hostname: "plan-a" });
  other = await enrollNode(t, { hostname: "plan-b" });
  armNode = await enrollNode(t, { hostname: "plan-arm", labels: { arch: "arm64" } });
});
after(async () => {
  await t?.close();
});

const getPlan = async (n: EnrolledNode = node): Promise<NodePlan> => {
  const r = await t.call("GET", `/v1/nodes/${n.nodeId}/plan`, { auth: bearer(n.credential) });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body as unknown as NodePlan;
};
const entryOf = (plan: NodePlan, id: string): PlanInstance | undefined =>
  plan.instances.find((i) => i.instance_id === id);
const allocate = (o: { nodeId?: string; processType?: string; releaseId?: string } = {}) =>
  allocateInstance(t, {
    orgId: tenant.orgId,
    appId: tenant.appId,
    envId: tenant.envId,
    nodeId: o.nodeId ?? node.nodeId,
    processType: o.processType ?? "web",
    releaseId: o.releaseId ?? tenant.releaseId,
    overlayIpv6: "fd70:6c66:0:1::42",
  });
let clock = 0;
const report = (inst: string, body: Record<string, unknown>) =>
  t.call("POST", `/v1/nodes/${node.nodeId}/instances/${inst}/status`, {
    auth: bearer(node.credential),
    body: { reported_at: new Date(Date.UTC(2026, 0, 1, 0, 0, ++clock)).toISOString(), ...body },
  });

test("an allocated instance is in its node's plan with a valid workload, and only there", async () => {
  const before = await getPlan();
  const inst = await allocate();
  const plan = await getPlan();
  const entry = entryOf(plan, inst);
  assert.ok(entry, JSON.stringify(plan.instances));
  assert.equal(entry.assignment_id, `asgn_${inst.slice(5)}`);
  assert.equal(entry.node_id, node.nodeId);
  assert.equal(entry.generation, 1);
  assert.equal(entry.desired_state, "running");
  assert.equal(entry.drain_grace_seconds, 10);
  assert.ok(entry.workload);
  assert.deepEqual(workloadSpecProblems(entry.workload), []);
  const w = entry.workload;
  assert.equal(w.instance_id, inst);
  assert.equal(w.release_id, tenant.releaseId);
  assert.equal(w.env_id, tenant.envId);
  assert.equal(w.process_type, "web");
  assert.deepEqual(w.command, ["/bin/server", "--port", "8080"]);
  assert.equal(w.network.overlay_ipv6, "fd70:6c66:0:1::42");
  assert.deepEqual(w.network.ports, [{ name: "p8080", port: 8080, protocol: "tcp" }]);
  // The snapshot the scheduler reserved: 0.5 cpu (the release leaves cpu at its default).
  assert.equal(w.resources.cpu_request, 0.5);
  assert.equal(w.resources.cpu_weight, 50);
  assert.equal(w.resources.vcpu_count, 1);
  assert.equal(w.resources.memory_limit_bytes, 268435456);
  assert.notEqual(plan.plan_id, before.plan_id);
  // The other node's plan does not list it.
  assert.equal(entryOf(await getPlan(other), inst), undefined);
});

test("the image follows the node's arch label", async () => {
  const digestC = `sha256:${"c".repeat(64)}`;
  const r = await t.call("POST", `/v1/orgs/${tenant.orgId}/apps/${tenant.appId}/releases`, {
    auth: OWNER,
    body: releaseBody({
      resolved_digests: [
        { os: "linux", arch: "amd64", digest: DIGEST_B },
        { os: "linux", arch: "arm64", digest: digestC },
      ],
    }),
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const releaseId = String(r.body.release_id);
  const onArm = await allocate({ nodeId: armNode.nodeId, releaseId });
  const onAmd = await allocate({ releaseId });
  const arm = entryOf(await getPlan(armNode), onArm)?.workload;
  assert.ok(arm);
  assert.equal(arm.image.arch, "arm64");
  assert.equal(arm.image.resolved_digest, digestC);
  assert.equal(arm.image.index_digest, DIGEST_A);
  const amd = entryOf(await getPlan(), onAmd)?.workload;
  assert.equal(amd?.image.arch, "amd64");
  assert.equal(amd?.image.resolved_digest, DIGEST_B);
});

test("a drained instance stays with desired_state draining; stopped and failed ones disappear", async () => {
  const drained = await allocate();
  const stoppedByReport = await allocate();
  const failed = await allocate();
  const forced = await allocate();
  const r = await t.call("POST", `${tenant.envUrl}/instances/${drained}/restart`, {
    auth: OWNER,
    key: "drain-key-1",
  });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  let plan = await getPlan();
  const entry = entryOf(plan, drained);
  assert.equal(entry?.desired_state, "draining");
  assert.ok(entry?.workload, "a draining instance keeps its workload");
  const before = plan.plan_id;

  assert.equal((await report(stoppedByReport, { status: "stopped" })).status, 200);
  assert.equal((await report(failed, { status: "failed", reason_code: "healthcheck_failed" })).status, 200);
  const stop = await t.call("POST", `/v1/_debug/instances/${forced}/stop`, {
    auth: OP,
    key: "force-stop-key-1",
  });
  assert.equal(stop.status, 200, JSON.stringify(stop.body));
  plan = await getPlan();
  assert.equal(entryOf(plan, stoppedByReport), undefined);
  assert.equal(entryOf(plan, failed), undefined);
  assert.equal(entryOf(plan, forced), undefined);
  assert.ok(entryOf(plan, drained));
  assert.notEqual(plan.plan_id, before);
});

test("an instance whose release is unknown is listed without a workload, not dropped", async () => {
  const inst = await allocateInstance(t, {
    orgId: tenant.orgId,
    appId: tenant.appId,
    envId: tenant.envId,
    nodeId: node.nodeId,
  });
  const entry = entryOf(await getPlan(), inst);
  assert.ok(entry);
  assert.equal(entry.desired_state, "running");
  assert.equal(entry.workload, undefined);
});

test("the plan stream sends a new plan when an instance is allocated", async () => {
  const abort = new AbortController();
  const signal = AbortSignal.any([abort.signal, AbortSignal.timeout(15_000)]);
  try {
    const res = await fetch(`${t.server.url}/v1/nodes/${other.nodeId}/plan/stream`, {
      headers: { authorization: bearer(other.credential) },
      signal,
    });
    assert.equal(res.status, 200);
    assert.ok(res.body);
    const messages = sseMessages(res.body);
    const next = async (): Promise<NodePlan> => {
      for (;;) {
        const m = await messages.next();
        if (m.done) throw new Error("stream ended");
        if (m.value.event === "plan") return JSON.parse(m.value.data) as NodePlan;
      }
    };
    const first = await next();
    const inst = await allocate({ nodeId: other.nodeId });
    const second = await next();
    assert.notEqual(second.plan_id, first.plan_id);
    assert.ok(entryOf(second, inst)?.workload);
  } finally {
    abort.abort();
  }
});
