import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  append,
  comparePositions,
  headPosition,
  loadAggregate,
  readCheckpoints,
  rebuildProjection,
  START,
} from "@plfm/kernel";
import { decideDeployStatus, deployAggregate } from "./deploy.ts";
import { releaseProjections } from "./release-projections.ts";
import { releaseBody } from "./release-test-kit.ts";
import { addMember, assertProblem, caller, dev, eventCount, type Harness, startHarness } from "./test-kit.ts";

let h: Harness;
let call: ReturnType<typeof caller>;
const alice = dev("alice@example.com");
const bob = dev("bob@example.com");
const rita = dev("rita@example.com");
let orgA = "";
let appPath = "";
let rel1 = "";
let rel2 = "";

before(async () => {
  h = await startHarness();
  call = caller(h);
  orgA = String((await call("POST", "/v1/orgs", { auth: alice, body: { name: "org-a" } })).body.org_id);
  const app = await call("POST", `/v1/orgs/${orgA}/apps`, { auth: alice, body: { name: "shop" } });
  appPath = `/v1/orgs/${orgA}/apps/${app.body.app_id}`;
  rel1 = String(
    (await call("POST", `${appPath}/releases`, { auth: alice, body: releaseBody() })).body.release_id,
  );
  rel2 = String(
    (await call("POST", `${appPath}/releases`, { auth: alice, body: releaseBody() })).body.release_id,
  );
  await addMember(h, alice, orgA, "rita@example.com", "readonly");
});
after(async () => {
  await h?.close();
});

async function newEnv(name: string): Promise<{ path: string; envId: string }> {
  const r = await call("POST", `${appPath}/envs`, { auth: alice, body: { name } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return { path: `${appPath}/envs/${r.body.env_id}`, envId: String(r.body.env_id) };
}

const deploy = (path: string, body: unknown, key?: string, auth = alice) =>
  call("POST", `${path}/deploys`, { auth, body, ...(key ? { key } : {}) });

describe("deploys", () => {
  test("a deploy sets every process's desired release in the deploy.created transaction", async () => {
    const { path, envId } = await newEnv("prod");
    const r = await deploy(path, { release_id: rel1 });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const depId = String(r.body.deploy_id);
    assert.match(depId, /^dep_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(r.body.kind, "deploy");
    assert.equal(r.body.status, "queued");
    assert.equal(r.body.strategy, "rolling");
    assert.equal(r.body.env_id, envId);
    assert.deepEqual(r.body.process_types, ["web", "worker"]);
    const { rows } = await h.db.pool.query(
      `SELECT event_type, tx_id::text, correlation_id, request_id, payload FROM events
        WHERE correlation_id = $1 ORDER BY event_id`,
      [depId],
    );
    assert.deepEqual(
      rows.map((e) => [e.event_type, e.payload.process_type ?? null]),
      [
        ["deploy.created", null],
        ["env.desired_release_set", "web"],
        ["env.desired_release_set", "worker"],
      ],
    );
    assert.equal(new Set(rows.map((e) => e.tx_id)).size, 1, "one transaction");
    assert.equal(new Set(rows.map((e) => e.request_id)).size, 1, "one request");
    for (const e of rows.slice(1)) {
      assert.deepEqual(e.payload, {
        env_id: envId,
        org_id: orgA,
        app_id: appPath.split("/").pop(),
        process_type: e.payload.process_type,
        release_id: rel1,
        deploy_id: depId,
      });
    }
    assert.deepEqual((await call("GET", `${path}/deploys/${depId}`, { auth: rita })).body, r.body);
    const list = await call("GET", `${path}/deploys`, { auth: rita });
    assert.deepEqual(list.body.items, [r.body]);
    const status = await call("GET", `${path}/status`, { auth: rita });
    assert.equal(status.status, 200, JSON.stringify(status.body));
    assert.deepEqual(status.body.last_deploy, { deploy_id: depId, status: "queued", message: null });
    const procs = status.body.processes as {
      process_type: string;
      desired_release_id: string;
      desired: number;
    }[];
    assert.deepEqual(
      procs.map((p) => [p.process_type, p.desired_release_id, p.desired]),
      [
        ["web", rel1, 1],
        ["worker", rel1, 2],
      ],
    );
  });

  test("process_types limits the deploy; a rollback is a deploy of kind rollback", async () => {
    const { path } = await newEnv("stage");
    await deploy(path, { release_id: rel1 });
    const partial = await deploy(path, { release_id: rel2, process_types: ["web"] });
    assert.equal(partial.status, 201, JSON.stringify(partial.body));
    assert.deepEqual(partial.body.process_types, ["web"]);
    const rb = await call("POST", `${path}/rollbacks`, { auth: alice, body: { release_id: rel1 } });
    assert.equal(rb.status, 201, JSON.stringify(rb.body));
    assert.equal(rb.body.kind, "rollback");
    assert.equal(rb.body.status, "queued");
    assert.deepEqual(rb.body.process_types, ["web", "worker"]);
    const { rows } = await h.db.pool.query(
      "SELECT count(*)::int AS n FROM events WHERE correlation_id = $1 AND event_type = 'env.desired_release_set'",
      [rb.body.deploy_id],
    );
    assert.equal(rows[0].n, 2);
    const status = await call("GET", `${path}/status`, { auth: alice });
    assert.deepEqual(status.body.last_deploy, {
      deploy_id: rb.body.deploy_id,
      status: "queued",
      message: null,
    });
  });

  test("unknown or duplicate process types, and another app's release → 400 invalid_argument", async () => {
    const { path } = await newEnv("qa");
    const n = await eventCount(h);
    assertProblem(
      await deploy(path, { release_id: rel1, process_types: ["web", "cron"] }),
      400,
      "invalid_argument",
      "process_types.1",
    );
    assertProblem(
      await deploy(path, { release_id: rel1, process_types: ["web", "web"] }),
      400,
      "invalid_argument",
      "process_types.1",
    );
    assertProblem(await deploy(path, { release_id: rel1, strategy: "canary" }), 400, "invalid_argument");
    const other = await call("POST", `/v1/orgs/${orgA}/apps`, { auth: alice, body: { name: "other" } });
    const otherRel = await call("POST", `/v1/orgs/${orgA}/apps/${other.body.app_id}/releases`, {
      auth: alice,
      body: releaseBody(),
    });
    const n2 = await eventCount(h);
    assert.ok(n2 > n);
    assertProblem(
      await deploy(path, { release_id: otherRel.body.release_id }),
      400,
      "invalid_argument",
      "release_id",
    );
    assertProblem(
      await call("POST", `${path}/rollbacks`, {
        auth: alice,
        body: { release_id: "rel_00000000000000000000000000" },
      }),
      400,
      "invalid_argument",
      "release_id",
    );
    assert.equal(await eventCount(h), n2);
  });

  test("scale: any process type before the first deploy; unknown ones → 400 after it", async () => {
    const { path } = await newEnv("scale");
    const put = (process_type: string, expected_version: number) =>
      call("PUT", `${path}/scale`, {
        auth: alice,
        body: { processes: [{ process_type, desired: 1 }], expected_version },
      });
    assert.equal((await put("anything", 1)).status, 200);
    await deploy(path, { release_id: rel1 });
    assertProblem(await put("cron", 2), 400, "invalid_argument", "processes.0.process_type");
    const ok = await put("worker", 2);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  test("idempotent replay creates nothing new; another body → idempotency_key_reuse", async () => {
    const { path } = await newEnv("idem");
    const first = await deploy(path, { release_id: rel1 }, "deploy-key-0001");
    assert.equal(first.status, 201);
    const n = await eventCount(h);
    const again = await deploy(path, { release_id: rel1 }, "deploy-key-0001");
    assert.equal(again.status, 201);
    assert.equal(again.headers.get("idempotency-replayed"), "true");
    assert.deepEqual(again.body, first.body);
    assert.equal(await eventCount(h), n);
    assert.equal(((await call("GET", `${path}/deploys`, { auth: alice })).body.items as unknown[]).length, 1);
    assertProblem(await deploy(path, { release_id: rel2 }, "deploy-key-0001"), 409, "idempotency_key_reuse");
  });

  test("scopes, not found and cross-org", async () => {
    const { path } = await newEnv("perm");
    assertProblem(await deploy(path, { release_id: rel1 }, undefined, rita), 403, "insufficient_scope");
    assertProblem(
      await call("POST", `${path}/rollbacks`, { auth: rita, body: { release_id: rel1 } }),
      403,
      "insufficient_scope",
    );
    await call("POST", "/v1/orgs", { auth: bob, body: { name: "org-b" } });
    assertProblem(await deploy(path, { release_id: rel1 }, undefined, bob), 403, "org_access_denied");
    assertProblem(await call("GET", `${path}/deploys`, { auth: bob }), 403, "org_access_denied");
    assertProblem(
      await call("GET", `${path}/deploys/dep_00000000000000000000000000`, { auth: alice }),
      404,
      "not_found",
    );
    assertProblem(
      await deploy(`${appPath}/envs/env_00000000000000000000000000`, { release_id: rel1 }),
      404,
      "not_found",
    );
  });

  test("a status change (as the scheduler appends it) projects; a rebuild matches", async () => {
    const { path } = await newEnv("rebuild");
    const d = await deploy(path, { release_id: rel1 });
    const depId = String(d.body.deploy_id);
    const { state } = await loadAggregate(h.db.pool, deployAggregate, depId);
    const events = decideDeployStatus(state, depId, { status: "rolling", message: "1 of 2" }, new Date());
    await append(h.db.pool, {
      meta: { actorType: "system", actorId: "scheduler", requestId: "req_test" },
      events,
      expected: [{ aggregateType: "deploy", aggregateId: depId, seq: 1 }],
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const got = await call("GET", `${path}/deploys/${depId}`, { auth: alice });
      if (got.body.status === "rolling") {
        assert.equal(got.body.message, "1 of 2");
        assert.equal(got.body.resource_version, 2);
        break;
      }
      assert.ok(Date.now() < deadline, "the status change was not projected");
      await sleep(25);
    }
    const snapshot = async () => ({
      releases: (await h.db.pool.query("SELECT * FROM releases ORDER BY release_id")).rows,
      deploys: (await h.db.pool.query("SELECT * FROM deploys ORDER BY deploy_id")).rows,
      desired: (await h.db.pool.query("SELECT * FROM env_desired_releases ORDER BY env_id, process_type"))
        .rows,
    });
    const live = await snapshot();
    assert.ok(live.desired.length > 0);
    const head = await headPosition(h.db.pool);
    for (const p of releaseProjections) await rebuildProjection(h.db.pool, p);
    const names = releaseProjections.map((p) => p.name);
    for (;;) {
      const at = await readCheckpoints(h.db.pool, names);
      if (names.every((n) => comparePositions(at.get(n) ?? START, head) >= 0)) break;
      assert.ok(Date.now() < deadline + 5_000, "the rebuilt projections did not catch up");
      await sleep(25);
    }
    assert.deepEqual(await snapshot(), live);
  });
});
