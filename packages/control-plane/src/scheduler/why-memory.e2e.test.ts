// `why` from the real scheduler (issue 4: "every blocker with its reason and
// the facts behind it, such as memory committed against memory needed"): a
// node too small for the release's replicas, and what the API says about it.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { releaseBody } from "../apps/release-test-kit.ts";
import { bearer, enrollNode, OPERATOR_EMAIL } from "../fleet/test-kit.ts";
import { type HttpTestServer, startHttpTestServer } from "../http/test-server.ts";
import { user } from "../tenancy/http-test-kit.ts";

const alice = user("alice@example.com");
const MiB = 1024 ** 2;
let t: HttpTestServer;
before(async () => {
  t = await startHttpTestServer({ operators: [OPERATOR_EMAIL], scheduler: { tickMs: 200 } });
});
after(() => t?.close());

test("a node without room: the group is blocked no_capacity_memory and why names the node and its memory", async () => {
  // 640 MiB: web (256 + 64) and one worker (128 + 64) fit, the second worker does not.
  const node = await enrollNode(t, {
    hostname: "small",
    capacity: { cpu_cores: 2, memory_bytes: 640 * MiB, disk_bytes: 10 * 1024 * MiB },
  });
  await t.call("POST", `/v1/nodes/${node.nodeId}/heartbeat`, { auth: bearer(node.credential), body: {} });
  const org = await t.call("POST", "/v1/orgs", { auth: alice, body: { name: "why" } });
  const appUrl = `/v1/orgs/${org.body.org_id}/apps/${(await t.call("POST", `/v1/orgs/${org.body.org_id}/apps`, { auth: alice, body: { name: "shop" } })).body.app_id}`;
  const env = await t.call("POST", `${appUrl}/envs`, { auth: alice, body: { name: "prod" } });
  const envUrl = `${appUrl}/envs/${env.body.env_id}`;
  const rel = await t.call("POST", `${appUrl}/releases`, { auth: alice, body: releaseBody() });
  await t.call("POST", `${envUrl}/deploys`, { auth: alice, body: { release_id: rel.body.release_id } });

  type Fact = {
    node_id?: string;
    reason?: string;
    detail?: string;
    committed_bytes?: number;
    needed_bytes?: number;
    capacity_bytes?: number;
  };
  type Proc = { process_type: string; blockers: { reason: string; facts: Fact[] }[] };
  const deadline = Date.now() + 20_000;
  let worker: Proc | undefined;
  for (;;) {
    const why = await t.call("GET", `${envUrl}/why`, { auth: alice });
    assert.equal(why.status, 200, JSON.stringify(why.body));
    worker = (why.body.processes as Proc[]).find((p) => p.process_type === "worker");
    if (worker?.blockers.some((b) => b.reason === "no_capacity_memory" && b.facts.length > 0)) break;
    if (Date.now() > deadline) assert.fail(`never blocked with facts: ${JSON.stringify(why.body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const fact = worker?.blockers[0]?.facts.find((f) => f.node_id === node.nodeId);
  assert.ok(fact, JSON.stringify(worker));
  assert.equal(fact.reason, "memory");
  assert.equal(fact.needed_bytes, 192 * MiB);
  assert.equal(fact.capacity_bytes, 640 * MiB);
  assert.ok((fact.committed_bytes ?? 0) + (fact.needed_bytes ?? 0) > (fact.capacity_bytes ?? 0));
  assert.match(String(fact.detail), /^memory committed .+ \+ needed 192 MiB > 640 MiB$/);
  // Status reads the env_scheduling view, which may trail the pass by a moment.
  for (;;) {
    const status = await t.call("GET", `${envUrl}/status`, { auth: alice });
    const w = (status.body.processes as { process_type: string; blocked_reason?: string }[]).find(
      (p) => p.process_type === "worker",
    );
    if (w?.blocked_reason === "no_capacity_memory") break;
    if (Date.now() > deadline) assert.fail(`status never showed the block: ${JSON.stringify(status.body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // Never oversubscribed: what was placed fits.
  const { rows } = await t.db.pool.query(
    `SELECT coalesce(sum((resources_snapshot->>'memory_limit_bytes')::bigint + 67108864), 0)::bigint AS used
       FROM instances WHERE node_id = $1 AND desired_state <> 'stopped'`,
    [node.nodeId],
  );
  assert.ok(Number(rows[0].used) <= 640 * MiB);
});
