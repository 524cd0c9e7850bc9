// Quotas rechecked at placement (spec §6.4; issue 4: "quota exhaustion is
// surfaced in status and why"): pure arithmetic, then end to end.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { releaseBody } from "../apps/release-test-kit.ts";
import { bearer, enrollNode, OPERATOR_EMAIL } from "../fleet/test-kit.ts";
import { type HttpTestServer, startHttpTestServer } from "../http/test-server.ts";
import { user } from "../tenancy/http-test-kit.ts";
import { DEFAULT_SETTINGS } from "./placement/types.ts";
import { quotaAllows } from "./quota.ts";

const MiB = 1024 ** 2;
const none = { max_instances: null, max_total_memory_bytes: null, max_total_cpu_request: null };

test("quotaAllows: the tightest limit decides, memory counted with the overhead", () => {
  const running = [{ memory_limit_bytes: 256 * MiB, cpu_request: 0.5 }];
  assert.deepEqual(quotaAllows(none, running, 5, 256 * MiB, 0.5), { allowed: 5 });
  const byCount = quotaAllows({ ...none, max_instances: 3 }, running, 5, 256 * MiB, 0.5);
  assert.equal(byCount.allowed, 2);
  assert.equal(byCount.limitedBy?.dimension, "max_instances");
  const per = 256 * MiB + DEFAULT_SETTINGS.overhead_bytes;
  const byMemory = quotaAllows(
    { ...none, max_instances: 3, max_total_memory_bytes: 2 * per },
    running,
    5,
    256 * MiB,
    0.5,
  );
  assert.deepEqual(byMemory.limitedBy, {
    dimension: "max_total_memory_bytes",
    limit: 2 * per,
    usage: per,
    per_instance: per,
  });
  assert.equal(byMemory.allowed, 1);
  assert.equal(
    quotaAllows({ ...none, max_total_cpu_request: 0.3 }, [], 3, MiB, 0.1).allowed,
    3,
    "0.1 × 3 fits 0.3",
  );
  assert.equal(quotaAllows({ ...none, max_instances: 0 }, running, 1, MiB, 0.1).allowed, 0);
});

describe("quota exhaustion end to end", () => {
  let t: HttpTestServer;
  const alice = user("alice@example.com");
  const ops = user(OPERATOR_EMAIL);
  before(async () => {
    t = await startHttpTestServer({ operators: [OPERATOR_EMAIL], scheduler: { tickMs: 200 } });
  });
  after(() => t?.close());

  test("max_instances 2 with 3 wanted: 2 placed, the rest blocked org_quota_exceeded, shown by status and why; deleting the env drains them (env_deleted)", async () => {
    const node = await enrollNode(t, { hostname: "q1" });
    await t.call("POST", `/v1/nodes/${node.nodeId}/heartbeat`, { auth: bearer(node.credential), body: {} });
    const org = await t.call("POST", "/v1/orgs", { auth: alice, body: { name: "quota" } });
    const orgId = String(org.body.org_id);
    const q = await t.call("PUT", `/v1/orgs/${orgId}/quotas/max_instances`, {
      auth: ops,
      body: { limit_value: 2 },
    });
    assert.equal(q.status, 200, JSON.stringify(q.body));
    const app = await t.call("POST", `/v1/orgs/${orgId}/apps`, { auth: alice, body: { name: "shop" } });
    const appUrl = `/v1/orgs/${orgId}/apps/${app.body.app_id}`;
    const env = await t.call("POST", `${appUrl}/envs`, { auth: alice, body: { name: "prod" } });
    const envUrl = `${appUrl}/envs/${env.body.env_id}`;
    const rel = await t.call("POST", `${appUrl}/releases`, { auth: alice, body: releaseBody() });
    await t.call("POST", `${envUrl}/deploys`, { auth: alice, body: { release_id: rel.body.release_id } });
    // web wants 1 and worker 2: only 2 fit.
    const deadline = Date.now() + 10_000;
    let why: Record<string, unknown> = {};
    for (;;) {
      why = (await t.call("GET", `${envUrl}/why`, { auth: alice })).body;
      const blocked = (why.processes as { blockers: { reason: string }[] }[] | undefined)?.some((p) =>
        p.blockers.some((b) => b.reason === "org_quota_exceeded:max_instances"),
      );
      if (blocked) break;
      if (Date.now() > deadline) assert.fail(`no quota block: ${JSON.stringify(why)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Views catch up on their own schedule: wait until both show the outcome.
    const settled = async () => {
      const { rows } = await t.db.pool.query(
        "SELECT count(*)::int AS n FROM instances WHERE org_id = $1 AND desired_state <> 'stopped'",
        [orgId],
      );
      const status = await t.call("GET", `${envUrl}/status`, { auth: alice });
      const reasons = (status.body.processes as { blocked_reason?: string }[]).map((p) => p.blocked_reason);
      return rows[0].n === 2 && reasons.includes("org_quota_exceeded:max_instances");
    };
    while (!(await settled())) {
      if (Date.now() > deadline) assert.fail("status never showed 2 instances and the quota block");
      await new Promise((r) => setTimeout(r, 100));
    }
    const quotas = await t.call("GET", `/v1/orgs/${orgId}/quotas`, { auth: alice });
    const inst = (quotas.body.items as { dimension: string; current_usage: number }[]).find(
      (d) => d.dimension === "max_instances",
    );
    assert.equal(inst?.current_usage, 2);

    // Deleting the env drains its instances with reason env_deleted (§2.2, §3.4).
    const del = await t.call("DELETE", envUrl, { auth: alice });
    assert.equal(del.status, 204, JSON.stringify(del.body));
    for (;;) {
      const { rows: reasons } = await t.db.pool.query(
        `SELECT DISTINCT payload->>'reason' AS reason FROM events
          WHERE org_id = $1 AND event_type = 'instance.desired_state_changed' AND payload->>'desired_state' = 'draining'`,
        [orgId],
      );
      if (reasons.length > 0) {
        assert.deepEqual(
          reasons.map((r) => r.reason),
          ["env_deleted"],
        );
        break;
      }
      if (Date.now() > deadline + 10_000) assert.fail("the env's instances were never drained");
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});
