// End to end over HTTP: env status from the instances, env_scheduling,
// routes and scheduler_status views, and `GET E/why` (spec platform.md §4.4,
// §4.6, §6.2; issue 4). The reconciler's writes are made the way it makes
// them: instance.allocated and env.scheduling_* appended through the kernel,
// scheduler_status rows inserted directly; node reports go through the node
// route.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  append,
  comparePositions,
  headPosition,
  newId,
  readAggregate,
  readCheckpoints,
  rebuildProjection,
  START,
} from "@plfm/kernel";
import { releaseBody } from "../apps/release-test-kit.ts";
import { allocateInstance } from "../apps/test-allocate.ts";
import { bearer, type EnrolledNode, enrollNode, OPERATOR_EMAIL } from "../fleet/test-kit.ts";
import { startHttpTestServer } from "../http/test-server.ts";
import { assertProblem, type TestServer, user } from "../tenancy/http-test-kit.ts";
import { envSchedulingProjection } from "./projections.ts";

let t: TestServer;
const alice = user("alice@example.com");
const bob = user("bob@example.com");
let orgA = "";
let orgB = "";
let appId = "";
let envId = "";
let envUrl = "";
let rel1 = "";
let deployId = "";
let node: EnrolledNode;

async function created(path: string, auth: string, body: unknown, idField: string): Promise<string> {
  const r = await t.call("POST", path, { auth, body });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return String(r.body[idField]);
}

let clock = 0;
async function report(inst: string, status: string, extra: Record<string, unknown> = {}): Promise<void> {
  const r = await t.call("POST", `/v1/nodes/${node.nodeId}/instances/${inst}/status`, {
    auth: bearer(node.credential),
    body: { status, reported_at: new Date(Date.UTC(2026, 0, 1, 0, 0, ++clock)).toISOString(), ...extra },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

async function place(processType: string, releaseId: string, ...statuses: string[]): Promise<string> {
  const inst = await allocateInstance(t, {
    orgId: orgA,
    appId,
    envId,
    nodeId: node.nodeId,
    processType,
    releaseId,
  });
  for (const s of statuses) {
    await report(inst, s, s === "failed" ? { reason_code: "oom_killed" } : {});
  }
  return inst;
}

/** Appends an env.scheduling_* event as the reconciler does, and waits for env_scheduling. */
async function schedulingEvent(processType: string, reason: string | null, detail = ""): Promise<void> {
  const r = await append(t.db.pool, {
    meta: { actorType: "system", actorId: "scheduler", requestId: newId("req") },
    events: [
      {
        aggregateType: "env",
        aggregateId: envId,
        eventType: reason ? "env.scheduling_blocked" : "env.scheduling_unblocked",
        orgId: orgA,
        appId,
        envId,
        payload: {
          env_id: envId,
          org_id: orgA,
          app_id: appId,
          process_type: processType,
          ...(reason ? { reason, detail } : {}),
        },
      },
    ],
  });
  await t.server.kernel.watcher.waitFor(r.position, ["env_scheduling"], { timeoutMs: 5000 });
}

async function schedulerStatus(
  processType: string,
  at: string,
  fields: { error?: string; reason?: string; detail?: string; facts?: unknown[] } = {},
): Promise<void> {
  await t.db.pool.query(
    `INSERT INTO scheduler_status (env_id, process_type, org_id, last_reconcile_at, last_error,
                                   blocked_reason, blocked_detail, blocked_facts)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (env_id, process_type) DO UPDATE SET last_reconcile_at = EXCLUDED.last_reconcile_at,
       last_error = EXCLUDED.last_error, blocked_reason = EXCLUDED.blocked_reason,
       blocked_detail = EXCLUDED.blocked_detail, blocked_facts = EXCLUDED.blocked_facts`,
    [
      envId,
      processType,
      orgA,
      at,
      fields.error ?? null,
      fields.reason ?? null,
      fields.detail ?? null,
      fields.facts ? JSON.stringify(fields.facts) : null,
    ],
  );
}

type Proc = Record<string, unknown> & { process_type: string };
const procOf = (body: Record<string, unknown>, type: string) =>
  (body.processes as Proc[]).find((p) => p.process_type === type);

before(async () => {
  // The real scheduler is off: this file plays its part by hand, deterministically.
  t = await startHttpTestServer({ operators: [OPERATOR_EMAIL], config: { scheduler: false } });
  orgA = await created("/v1/orgs", alice, { name: "org-a" }, "org_id");
  orgB = await created("/v1/orgs", bob, { name: "org-b" }, "org_id");
  appId = await created(`/v1/orgs/${orgA}/apps`, alice, { name: "shop" }, "app_id");
  envId = await created(`/v1/orgs/${orgA}/apps/${appId}/envs`, alice, { name: "prod" }, "env_id");
  envUrl = `/v1/orgs/${orgA}/apps/${appId}/envs/${envId}`;
  rel1 = await created(`/v1/orgs/${orgA}/apps/${appId}/releases`, alice, releaseBody(), "release_id");
  deployId = await created(`${envUrl}/deploys`, alice, { release_id: rel1 }, "deploy_id");
  const scaled = await t.call("PUT", `${envUrl}/scale`, {
    auth: alice,
    body: { processes: [{ process_type: "web", desired: 3 }], expected_version: 1 },
  });
  assert.equal(scaled.status, 200, JSON.stringify(scaled.body));
  node = await enrollNode(t, { hostname: "worker-1" });
});
after(async () => {
  await t?.close();
});

describe("env status from the scheduler's facts", () => {
  test("counts, current release, sync, routes, last deploy and last reconcile", async () => {
    const rel0 = newId("rel");
    await place("web", rel1, "preparing", "booting", "ready");
    await place("web", rel1, "preparing", "booting");
    const old = await place("web", rel0, "preparing", "booting", "ready");
    await place("web", rel1, "failed");
    // A stopped instance counts for nothing.
    await place("web", rel0, "stopped");
    const restart = await t.call("POST", `${envUrl}/instances/${old}/restart`, { auth: alice });
    assert.equal(restart.status, 202, JSON.stringify(restart.body));
    const webRoute = await created(
      `${envUrl}/routes`,
      alice,
      {
        hostname: "shop.example",
        listen_port: 443,
        protocol_hint: "tls_passthrough",
        backend_process_type: "web",
        backend_port: 8080,
      },
      "route_id",
    );
    const workerRoute = await created(
      `${envUrl}/routes`,
      alice,
      {
        hostname: "jobs.example",
        listen_port: 8443,
        protocol_hint: "tls_passthrough",
        backend_process_type: "worker",
        backend_port: 9000,
      },
      "route_id",
    );
    await schedulerStatus("web", "2026-01-01T00:00:01.000Z", { error: "node plan stream closed" });
    await schedulerStatus("worker", "2026-01-01T00:00:05.000Z");

    const r = await t.call("GET", `${envUrl}/status`, { auth: alice });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(procOf(r.body, "web"), {
      process_type: "web",
      current_release_id: rel1,
      desired_release_id: rel1,
      // The old release's instance is still draining.
      release_synced: false,
      desired: 3,
      ready: 1,
      booting: 1,
      draining: 1,
      failed: 1,
    });
    assert.deepEqual(procOf(r.body, "worker"), {
      process_type: "worker",
      current_release_id: null,
      desired_release_id: rel1,
      release_synced: false,
      desired: 2,
      ready: 0,
      booting: 0,
      draining: 0,
      failed: 0,
    });
    assert.equal(r.body.status, "failing", "worker wants 2 and has none ready");
    const routes = [
      {
        route_id: webRoute,
        hostname: "shop.example",
        listen_port: 443,
        backend_port: 8080,
        status: "active",
        backend_count: 1,
      },
      {
        route_id: workerRoute,
        hostname: "jobs.example",
        listen_port: 8443,
        backend_port: 9000,
        status: "no_backends",
        backend_count: 0,
      },
    ].sort((a, b) => (a.route_id < b.route_id ? -1 : 1));
    assert.deepEqual(r.body.routes, routes);
    assert.deepEqual(r.body.last_deploy, { deploy_id: deployId, status: "queued", message: null });
    assert.equal(r.body.last_reconcile_at, "2026-01-01T00:00:05.000Z");
    assert.equal(r.body.last_error, "node plan stream closed");
  });

  test("a block shows after env.scheduling_blocked and clears after env.scheduling_unblocked", async () => {
    await schedulingEvent("worker", "no_capacity_memory", "no node of 1 can take 192 MiB");
    const blocked = await t.call("GET", `${envUrl}/status`, { auth: alice });
    assert.equal(procOf(blocked.body, "worker")?.blocked_reason, "no_capacity_memory");
    assert.equal(procOf(blocked.body, "worker")?.blocked_detail, "no node of 1 can take 192 MiB");
    assert.equal(procOf(blocked.body, "web")?.blocked_reason, undefined);

    await schedulingEvent("worker", null);
    const cleared = await t.call("GET", `${envUrl}/status`, { auth: alice });
    assert.equal(procOf(cleared.body, "worker")?.blocked_reason, undefined);
    assert.equal(procOf(cleared.body, "worker")?.blocked_detail, undefined);
  });
});

describe("GET E/why", () => {
  test("desired against current, the blocker with each node's facts, and the events behind it", async () => {
    const detail = "memory committed 3.4 GiB + needed 576 MiB > 3.75 GiB";
    const facts = [
      {
        node_id: node.nodeId,
        reason: "memory",
        detail,
        facts: { committed_bytes: 3650722202, needed_bytes: 603979776, capacity_bytes: 4026531840 },
      },
    ];
    await schedulingEvent("worker", "no_capacity_memory", `no node of 1 can take 512 MiB; e.g. ${detail}`);
    await schedulerStatus("worker", "2026-01-01T00:01:00.000Z", {
      reason: "no_capacity_memory",
      detail: "no node of 1 can take 512 MiB",
      facts,
    });
    const r = await t.call("GET", `${envUrl}/why`, { auth: user("alice@example.com") });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.env_id, envId);
    const worker = procOf(r.body, "worker") as Proc & {
      blockers: { reason: string; since: string; facts: unknown[] }[];
      events: { event_type: string; payload: Record<string, unknown>; cursor: string }[];
    };
    assert.equal(worker.desired, 2);
    assert.deepEqual(worker.current, { ready: 0, booting: 0, draining: 0, failed: 0, release_id: null });
    assert.equal(worker.desired_release_id, rel1);
    assert.equal(worker.blockers.length, 1);
    assert.equal(worker.blockers[0]?.reason, "no_capacity_memory");
    assert.deepEqual(worker.blockers[0]?.facts, facts);
    assert.ok(!Number.isNaN(Date.parse(worker.blockers[0]?.since ?? "")));
    assert.equal(worker.last_reconcile_at, "2026-01-01T00:01:00.000Z");

    // The worker's story, oldest first: its deploy, its desired release, then the block, cleared and back.
    const types = worker.events.map((e) => e.event_type);
    assert.deepEqual(types, [
      "deploy.created",
      "env.desired_release_set",
      "env.scheduling_blocked",
      "env.scheduling_unblocked",
      "env.scheduling_blocked",
    ]);
    assert.ok(
      worker.events.every((e) => e.payload.process_type === undefined || e.payload.process_type === "worker"),
    );
    assert.equal(typeof worker.events[0]?.cursor, "string", "wire envelopes carry a cursor");

    const web = procOf(r.body, "web") as Proc & {
      current: Record<string, unknown>;
      blockers: unknown[];
      events: { event_type: string }[];
    };
    assert.deepEqual(web.current, { ready: 1, booting: 1, draining: 1, failed: 1, release_id: rel1 });
    assert.deepEqual(web.blockers, []);
    assert.equal(web.last_error, "node plan stream closed");
    // web's instance events (not worker's), its scale, newest last, capped at 20.
    const webTypes = web.events.map((e) => e.event_type);
    assert.ok(webTypes.length <= 20);
    assert.ok(webTypes.includes("instance.status_changed"));
    assert.ok(!webTypes.some((ty) => ty.startsWith("env.scheduling_")));
    assert.equal(webTypes.at(-1), "instance.desired_state_changed", "the restart's drain was the last word");
    const explanation = r.body.explanation as string[];
    assert.equal(explanation.length, 2);
    assert.match(explanation[0] ?? "", /^web: 1 of 3 ready, 1 booting, 1 draining, 1 failed; /);
    assert.equal(
      explanation[1],
      `worker: 0 of 2 ready; rolling out ${rel1}; blocked no_capacity_memory: ${node.nodeId}: ${detail}`,
    );
  });

  test("tenant isolation: 403 for non-members, 404 for an env under another org or app", async () => {
    assertProblem(await t.call("GET", `${envUrl}/why`, { auth: bob }), 403, "org_access_denied");
    const bobApp = await created(`/v1/orgs/${orgB}/apps`, bob, { name: "b" }, "app_id");
    assertProblem(
      await t.call("GET", `/v1/orgs/${orgB}/apps/${bobApp}/envs/${envId}/why`, { auth: bob }),
      404,
      "not_found",
    );
    const otherApp = await created(`/v1/orgs/${orgA}/apps`, alice, { name: "other" }, "app_id");
    assertProblem(
      await t.call("GET", `/v1/orgs/${orgA}/apps/${otherApp}/envs/${envId}/why`, { auth: alice }),
      404,
      "not_found",
    );
  });

  test("the OpenAPI document lists envs.why", async () => {
    const doc = await t.call("GET", "/v1/openapi.json");
    const paths = doc.body.paths as Record<string, Record<string, { operationId?: string }>>;
    assert.equal(paths["/v1/orgs/{org}/apps/{app}/envs/{env}/why"]?.get?.operationId, "envs.why");
  });
});

describe("env_scheduling projection", () => {
  const snapshot = async () =>
    (await t.db.pool.query("SELECT * FROM env_scheduling ORDER BY env_id, process_type")).rows;

  test("re-applying the env's events changes nothing, and a rebuild equals the live view", async () => {
    await schedulingEvent("web", "secrets_missing", "required secrets have no version");
    const live = await snapshot();
    assert.equal(live.length, 2);

    const client = await t.db.pool.connect();
    try {
      await client.query("BEGIN");
      const events = (await readAggregate(client, "env", envId)).filter((e) =>
        envSchedulingProjection.eventTypes?.includes(e.eventType),
      );
      await envSchedulingProjection.apply(client, events);
      await client.query("COMMIT");
    } finally {
      client.release();
    }
    assert.deepEqual(await snapshot(), live);

    const head = await headPosition(t.db.pool);
    await rebuildProjection(t.db.pool, envSchedulingProjection);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const at = await readCheckpoints(t.db.pool, ["env_scheduling"]);
      if (comparePositions(at.get("env_scheduling") ?? START, head) >= 0) break;
      assert.ok(Date.now() < deadline, "the rebuilt projection did not catch up");
      await sleep(25);
    }
    assert.deepEqual(await snapshot(), live);
  });
});
