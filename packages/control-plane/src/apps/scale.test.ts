import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { comparePositions, headPosition, readCheckpoints, rebuildProjection, START } from "@plfm/kernel";
import { appsProjections } from "./projections.ts";
import { addMember, assertProblem, caller, dev, eventCount, type Harness, startHarness } from "./test-kit.ts";

let h: Harness;
let call: ReturnType<typeof caller>;
const alice = dev("alice@example.com");
let orgA = "";
let appPath = "";

before(async () => {
  h = await startHarness();
  call = caller(h);
  orgA = String((await call("POST", "/v1/orgs", { auth: alice, body: { name: "org-a" } })).body.org_id);
  const app = await call("POST", `/v1/orgs/${orgA}/apps`, { auth: alice, body: { name: "shop" } });
  appPath = `/v1/orgs/${orgA}/apps/${app.body.app_id}`;
});
after(async () => {
  await h?.close();
});

async function newEnv(name: string): Promise<{ path: string; envId: string }> {
  const r = await call("POST", `${appPath}/envs`, { auth: alice, body: { name } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return { path: `${appPath}/envs/${r.body.env_id}`, envId: String(r.body.env_id) };
}

const put = (path: string, processes: unknown, expected_version: unknown, key?: string) =>
  call("PUT", `${path}/scale`, {
    auth: alice,
    body: { processes, expected_version },
    ...(key ? { key } : {}),
  });

describe("scale", () => {
  test("PUT sets the listed process types, merges with the rest, and reads back (sorted)", async () => {
    const { path, envId } = await newEnv("prod");
    const first = await put(
      path,
      [
        { process_type: "worker", desired: 1 },
        { process_type: "web", desired: 2 },
      ],
      1,
    );
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(first.body.processes, [
      { process_type: "web", desired: 2 },
      { process_type: "worker", desired: 1 },
    ]);
    assert.equal(first.body.resource_version, 2);
    assert.equal(first.body.env_id, envId);
    assert.deepEqual((await call("GET", `${path}/scale`, { auth: alice })).body, first.body);
    const second = await put(path, [{ process_type: "web", desired: 0 }], 2);
    assert.equal(second.status, 200);
    assert.deepEqual(second.body.processes, [
      { process_type: "web", desired: 0 },
      { process_type: "worker", desired: 1 },
    ]);
    assert.equal(second.body.resource_version, 3);
    assert.deepEqual((await call("GET", `${path}/scale`, { auth: alice })).body, second.body);
    const { rows } = await h.db.pool.query(
      "SELECT org_id, app_id, env_id, payload FROM events WHERE aggregate_id = $1 AND event_type = 'env.scale_set' ORDER BY aggregate_seq",
      [envId],
    );
    const appId = appPath.split("/").pop();
    assert.deepEqual(rows[1], {
      org_id: orgA,
      app_id: appId,
      env_id: envId,
      payload: {
        env_id: envId,
        org_id: orgA,
        app_id: appId,
        scales: [{ process_type: "web", desired: 0 }],
      },
    });
    const same = await put(path, [{ process_type: "web", desired: 0 }], 3);
    assert.equal(same.body.resource_version, 3, "setting what is already set changes nothing");
  });

  test("a stale expected_version is 409 version_conflict and appends nothing", async () => {
    const { path } = await newEnv("stale");
    assert.equal((await put(path, [{ process_type: "web", desired: 1 }], 1)).status, 200);
    const before = await eventCount(h);
    assertProblem(await put(path, [{ process_type: "web", desired: 3 }], 1), 409, "version_conflict");
    assertProblem(await put(path, [{ process_type: "web", desired: 3 }], 9), 409, "version_conflict");
    assert.equal(await eventCount(h), before);
  });

  test("the env's and the scale's versions move independently", async () => {
    const { path } = await newEnv("independent");
    assert.equal((await put(path, [{ process_type: "web", desired: 1 }], 1)).status, 200);
    const renamed = await call("PATCH", path, {
      auth: alice,
      body: { name: "renamed", expected_version: 1 },
    });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.equal(renamed.body.resource_version, 2);
    const scale = await put(path, [{ process_type: "web", desired: 2 }], 2);
    assert.equal(scale.status, 200, JSON.stringify(scale.body));
    assert.equal(scale.body.resource_version, 3);
    assert.equal((await call("GET", path, { auth: alice })).body.resource_version, 2);
  });

  test("bad bodies are 400 with the field, and write nothing", async () => {
    const { path } = await newEnv("invalid");
    const before = await eventCount(h);
    const cases: [unknown, unknown, string][] = [
      [[{ process_type: "web", desired: -1 }], 1, "processes.0.desired"],
      [[{ process_type: "web", desired: 1.5 }], 1, "processes.0.desired"],
      [[{ process_type: "Web", desired: 1 }], 1, "processes.0.process_type"],
      [[{ process_type: `w${"x".repeat(32)}`, desired: 1 }], 1, "processes.0.process_type"],
      [[{ process_type: "web", desired: 1, cpu: 2 }], 1, "processes.0.cpu"],
      [[{ desired: 1 }], 1, "processes.0.process_type"],
      [[], 1, "processes"],
      [[{ process_type: "web", desired: 1 }], -1, "expected_version"],
      [[{ process_type: "web", desired: 1 }], "1", "expected_version"],
      [
        [
          { process_type: "web", desired: 1 },
          { process_type: "web", desired: 2 },
        ],
        1,
        "processes.1.process_type",
      ],
    ];
    for (const [processes, version, field] of cases) {
      const code = field === "expected_version" ? "invalid_expected_version" : "invalid_argument";
      assertProblem(await put(path, processes, version), 400, code, field);
    }
    assertProblem(
      await call("PUT", `${path}/scale`, { auth: alice, body: { processes: [] } }),
      400,
      "invalid_expected_version",
      "expected_version",
    );
    assert.equal(await eventCount(h), before);
  });

  test("an Idempotency-Key replays a PUT and appends nothing; another body is refused", async () => {
    const { path } = await newEnv("replayed");
    const processes = [{ process_type: "web", desired: 4 }];
    const first = await put(path, processes, 1, "scale-key-0001");
    assert.equal(first.status, 200);
    const before = await eventCount(h);
    const again = await put(path, processes, 1, "scale-key-0001");
    assert.equal(again.status, 200);
    assert.equal(again.headers.get("idempotency-replayed"), "true");
    assert.deepEqual(again.body, first.body);
    assertProblem(
      await put(path, [{ process_type: "web", desired: 5 }], 2, "scale-key-0001"),
      409,
      "idempotency_key_reuse",
    );
    assert.equal(await eventCount(h), before);
  });

  test("a readonly member reads the scale but cannot set it", async () => {
    await addMember(h, alice, orgA, "reader@example.com", "readonly");
    const { path } = await newEnv("read-only");
    assert.equal((await call("GET", `${path}/scale`, { auth: dev("reader@example.com") })).status, 200);
    assertProblem(
      await call("PUT", `${path}/scale`, {
        auth: dev("reader@example.com"),
        body: { processes: [{ process_type: "web", desired: 1 }], expected_version: 1 },
      }),
      403,
      "insufficient_scope",
    );
  });

  test("status: healthy with nothing to run, failing when a process wants instances and has none", async () => {
    const { path, envId } = await newEnv("status");
    const idle = await call("GET", `${path}/status`, { auth: alice });
    assert.equal(idle.status, 200, JSON.stringify(idle.body));
    assert.equal(idle.body.env_id, envId);
    assert.equal(idle.body.env_name, "status");
    assert.equal(idle.body.app_name, "shop");
    assert.equal(idle.body.status, "healthy");
    assert.deepEqual(idle.body.processes, []);
    await put(path, [{ process_type: "web", desired: 2 }], 1);
    const scaled = await call("GET", `${path}/status`, { auth: alice });
    assert.equal(scaled.body.status, "failing");
    assert.deepEqual(scaled.body.processes, [
      {
        process_type: "web",
        current_release_id: null,
        desired_release_id: null,
        release_synced: true,
        desired: 2,
        ready: 0,
        booting: 0,
        draining: 0,
        failed: 0,
      },
    ]);
  });

  test("rebuilding apps, envs and env_scale from the log reproduces them", async () => {
    const { path } = await newEnv("rebuilt");
    await put(path, [{ process_type: "b-1", desired: 1 }], 1);
    await put(path, [{ process_type: "a", desired: 3 }], 2);
    await call("DELETE", `${appPath}/envs/${(await newEnv("gone")).envId}`, { auth: alice });
    const snapshot = async () =>
      Promise.all(
        ["apps ORDER BY app_id", "envs ORDER BY env_id", "env_scale ORDER BY env_id"].map(
          async (t) => (await h.db.pool.query(`SELECT * FROM ${t}`)).rows,
        ),
      );
    const live = await snapshot();
    const head = await headPosition(h.db.pool);
    for (const p of appsProjections) await rebuildProjection(h.db.pool, p);
    // Poll the checkpoints rather than ask the watcher, which may not have heard of the reset yet.
    const names = appsProjections.map((p) => p.name);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const at = await readCheckpoints(h.db.pool, names);
      if (names.every((n) => comparePositions(at.get(n) ?? START, head) >= 0)) break;
      assert.ok(Date.now() < deadline, "the rebuilt projections did not catch up");
      await sleep(25);
    }
    assert.deepEqual(await snapshot(), live);
  });

  test("the OpenAPI document lists the apps, envs and scale routes with their schemas", async () => {
    const doc = await call("GET", "/v1/openapi.json");
    assert.equal(doc.status, 200);
    const paths = doc.body.paths as Record<
      string,
      Record<string, { operationId?: string; requestBody?: unknown }>
    >;
    const env = "/v1/orgs/{org}/apps/{app}/envs/{env}";
    assert.equal(paths["/v1/orgs/{org}/apps"]?.post?.operationId, "apps.create");
    assert.equal(paths["/v1/orgs/{org}/apps/{app}"]?.delete?.operationId, "apps.delete");
    assert.equal(paths["/v1/orgs/{org}/apps/{app}/envs"]?.post?.operationId, "envs.create");
    assert.equal(paths[env]?.patch?.operationId, "envs.update");
    assert.equal(paths[`${env}/scale`]?.put?.operationId, "envs.scale.set");
    assert.ok(paths[`${env}/scale`]?.put?.requestBody, "the scale body schema is documented");
    assert.equal(paths[`${env}/status`]?.get?.operationId, "envs.status");
  });
});
