import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { newId, withTransaction } from "@plfm/kernel";
import { envDeletionBlocker } from "./guards.ts";
import { addMember, assertProblem, caller, dev, eventCount, type Harness, startHarness } from "./test-kit.ts";

let h: Harness;
let call: ReturnType<typeof caller>;
const alice = dev("alice@example.com");
const bob = dev("bob@example.com");
let orgA = "";
let orgB = "";
let appPath = ""; // an app of org A
let otherAppPath = ""; // another app of org A
let bobsAppPath = ""; // an app of org B

before(async () => {
  h = await startHarness();
  call = caller(h);
  const org = async (auth: string, name: string) =>
    String((await call("POST", "/v1/orgs", { auth, body: { name } })).body.org_id);
  const app = async (auth: string, orgId: string, name: string) =>
    `/v1/orgs/${orgId}/apps/${(await call("POST", `/v1/orgs/${orgId}/apps`, { auth, body: { name } })).body.app_id}`;
  orgA = await org(alice, "org-a");
  orgB = await org(bob, "org-b");
  appPath = await app(alice, orgA, "shop");
  otherAppPath = await app(alice, orgA, "blog");
  bobsAppPath = await app(bob, orgB, "bobs");
});
after(async () => {
  await h?.close();
});

const createEnv = async (path: string, name: string, auth = alice) => {
  const r = await call("POST", `${path}/envs`, { auth, body: { name } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
};

describe("envs", () => {
  test("create answers the env, an immediate read shows it, the list has it, and it starts unscaled", async () => {
    const env = await createEnv(appPath, "prod");
    assert.match(String(env.env_id), /^env_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(env.org_id, orgA);
    assert.equal(env.app_id, appPath.split("/").pop());
    assert.equal(env.resource_version, 1);
    const path = `${appPath}/envs/${env.env_id}`;
    assert.deepEqual((await call("GET", path, { auth: alice })).body, env);
    const list = await call("GET", `${appPath}/envs`, { auth: alice });
    assert.deepEqual(list.body, { items: [env], next_cursor: null });
    const scale = await call("GET", `${path}/scale`, { auth: alice });
    assert.deepEqual(scale.body, {
      env_id: env.env_id,
      processes: [],
      updated_at: env.created_at,
      resource_version: 1,
    });
    const { rows } = await h.db.pool.query(
      "SELECT event_type, org_id, app_id, env_id, payload FROM events WHERE aggregate_id = $1",
      [env.env_id],
    );
    assert.deepEqual(rows, [
      {
        event_type: "env.created",
        org_id: orgA,
        app_id: env.app_id,
        env_id: env.env_id,
        payload: { env_id: env.env_id, org_id: orgA, app_id: env.app_id, name: "prod" },
      },
    ]);
  });

  test("bad bodies are 400 with the field, and write nothing", async () => {
    const before = await eventCount(h);
    const cases: [unknown, string][] = [
      [{ name: "ok", colour: "red" }, "colour"],
      [{ name: "Bad Name" }, "name"],
      [{ name: "" }, "name"],
      [{}, "name"],
    ];
    for (const [body, field] of cases) {
      assertProblem(
        await call("POST", `${appPath}/envs`, { auth: alice, body }),
        400,
        "invalid_argument",
        field,
      );
    }
    assertProblem(
      await call("GET", `${appPath}/envs/app_${"0".repeat(26)}`, { auth: alice }),
      400,
      "invalid_argument",
      "env",
    );
    assert.equal(await eventCount(h), before);
  });

  test("names are unique per app, not across apps", async () => {
    await createEnv(appPath, "staging");
    assertProblem(
      await call("POST", `${appPath}/envs`, { auth: alice, body: { name: "staging" } }),
      409,
      "conflict",
      "name",
    );
    await createEnv(otherAppPath, "staging");
  });

  test("an unknown env, or an env addressed under another app, is 404", async () => {
    const env = await createEnv(appPath, "qa");
    for (const path of [`${appPath}/envs/${newId("env")}`, `${otherAppPath}/envs/${env.env_id}`]) {
      assertProblem(await call("GET", path, { auth: alice }), 404, "not_found");
      assertProblem(
        await call("PATCH", path, { auth: alice, body: { name: "x", expected_version: 1 } }),
        404,
        "not_found",
      );
      assertProblem(await call("DELETE", path, { auth: alice }), 404, "not_found");
      assertProblem(await call("GET", `${path}/scale`, { auth: alice }), 404, "not_found");
      assertProblem(
        await call("PUT", `${path}/scale`, {
          auth: alice,
          body: { processes: [{ process_type: "web", desired: 1 }], expected_version: 1 },
        }),
        404,
        "not_found",
      );
      assertProblem(await call("GET", `${path}/status`, { auth: alice }), 404, "not_found");
    }
    const unknownApp = `/v1/orgs/${orgA}/apps/${newId("app")}`;
    assertProblem(await call("GET", `${unknownApp}/envs`, { auth: alice }), 404, "not_found");
    assertProblem(
      await call("POST", `${unknownApp}/envs`, { auth: alice, body: { name: "x" } }),
      404,
      "not_found",
    );
    assert.equal((await call("GET", `${appPath}/envs/${env.env_id}`, { auth: alice })).status, 200);
  });

  test("another org's envs: 403 through its path, 404 through yours", async () => {
    const env = await createEnv(appPath, "private");
    const direct = `${appPath}/envs/${env.env_id}`;
    assertProblem(await call("GET", direct, { auth: bob }), 403, "org_access_denied");
    assertProblem(await call("GET", `${appPath}/envs`, { auth: bob }), 403, "org_access_denied");
    assertProblem(
      await call("POST", `${appPath}/envs`, { auth: bob, body: { name: "mine" } }),
      403,
      "org_access_denied",
    );
    // Alice's app and env under Bob's org, or Alice's env under Bob's app.
    const appId = appPath.split("/").pop();
    const viaB = `/v1/orgs/${orgB}/apps/${appId}`;
    assertProblem(await call("GET", `${viaB}/envs`, { auth: bob }), 404, "not_found");
    assertProblem(
      await call("POST", `${viaB}/envs`, { auth: bob, body: { name: "planted" } }),
      404,
      "not_found",
    );
    assertProblem(await call("GET", `${viaB}/envs/${env.env_id}`, { auth: bob }), 404, "not_found");
    assertProblem(
      await call("GET", `${bobsAppPath}/envs/${env.env_id}/scale`, { auth: bob }),
      404,
      "not_found",
    );
    assertProblem(await call("DELETE", `${bobsAppPath}/envs/${env.env_id}`, { auth: bob }), 404, "not_found");
  });

  test("PATCH renames with the current expected_version and frees the old name", async () => {
    const env = await createEnv(appPath, "old-env");
    const path = `${appPath}/envs/${env.env_id}`;
    assertProblem(
      await call("PATCH", path, { auth: alice, body: { name: "new-env", expected_version: 5 } }),
      409,
      "version_conflict",
    );
    assertProblem(
      await call("PATCH", path, { auth: alice, body: { name: "new-env" } }),
      400,
      "invalid_expected_version",
      "expected_version",
    );
    const renamed = await call("PATCH", path, {
      auth: alice,
      body: { name: "new-env", expected_version: 1 },
    });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.equal(renamed.body.resource_version, 2);
    assert.deepEqual((await call("GET", path, { auth: alice })).body, renamed.body);
    await createEnv(appPath, "old-env");
    assertProblem(
      await call("POST", `${appPath}/envs`, { auth: alice, body: { name: "new-env" } }),
      409,
      "conflict",
    );
  });

  test("an Idempotency-Key replays create and appends nothing; another body is refused", async () => {
    const key = "create-env-0001";
    const first = await call("POST", `${appPath}/envs`, { auth: alice, body: { name: "replay" }, key });
    assert.equal(first.status, 201);
    const before = await eventCount(h);
    const again = await call("POST", `${appPath}/envs`, { auth: alice, body: { name: "replay" }, key });
    assert.equal(again.status, 201);
    assert.equal(again.headers.get("idempotency-replayed"), "true");
    assert.deepEqual(again.body, first.body);
    assertProblem(
      await call("POST", `${appPath}/envs`, { auth: alice, body: { name: "replay-2" }, key }),
      409,
      "idempotency_key_reuse",
    );
    assert.equal(await eventCount(h), before);
  });

  test("a readonly member reads envs but cannot create, rename or delete one", async () => {
    await addMember(h, alice, orgA, "reader@example.com", "readonly");
    const reader = dev("reader@example.com");
    const env = await createEnv(appPath, "watched");
    const path = `${appPath}/envs/${env.env_id}`;
    assert.equal((await call("GET", path, { auth: reader })).status, 200);
    assert.equal((await call("GET", `${path}/scale`, { auth: reader })).status, 200);
    assertProblem(
      await call("POST", `${appPath}/envs`, { auth: reader, body: { name: "nope" } }),
      403,
      "insufficient_scope",
    );
    assertProblem(
      await call("PATCH", path, { auth: reader, body: { name: "nope", expected_version: 1 } }),
      403,
      "insufficient_scope",
    );
    assertProblem(await call("DELETE", path, { auth: reader }), 403, "insufficient_scope");
  });

  test("delete soft-deletes: then 404, gone from the list, name free; a replayed delete is 204", async () => {
    const env = await createEnv(appPath, "temp");
    const path = `${appPath}/envs/${env.env_id}`;
    const key = "delete-env-0001";
    assert.equal((await call("DELETE", path, { auth: alice, key })).status, 204);
    const again = await call("DELETE", path, { auth: alice, key });
    assert.equal(again.status, 204);
    assert.equal(again.headers.get("idempotency-replayed"), "true");
    assertProblem(await call("GET", path, { auth: alice }), 404, "not_found");
    assertProblem(await call("GET", `${path}/scale`, { auth: alice }), 404, "not_found");
    assertProblem(await call("DELETE", path, { auth: alice }), 404, "not_found");
    const list = (await call("GET", `${appPath}/envs`, { auth: alice })).body.items as { env_id: string }[];
    assert.ok(!list.some((e) => e.env_id === env.env_id));
    await createEnv(appPath, "temp");
  });

  test("routes, volume attachments and IPv4 block an env's deletion", async () => {
    // Checked against stand-in tables: temporary tables shadow the real ones
    // (if their contexts are mounted) in this session only.
    const env = await createEnv(appPath, "blocked");
    const envId = String(env.env_id);
    const blockers = await withTransaction(h.db.pool, async (c) => {
      await c.query("CREATE TEMP TABLE route_claims (env_id text) ON COMMIT DROP");
      await c.query("CREATE TEMP TABLE volume_attachment_claims (env_id text) ON COMMIT DROP");
      await c.query(
        "CREATE TEMP TABLE ipv4_allocations (env_id text, released_at timestamptz) ON COMMIT DROP",
      );
      const seen = [await envDeletionBlocker(c, envId)];
      await c.query("INSERT INTO ipv4_allocations VALUES ($1, now()), ($2, null)", [envId, "env_other"]);
      seen.push(await envDeletionBlocker(c, envId));
      await c.query("INSERT INTO ipv4_allocations VALUES ($1, null)", [envId]);
      seen.push(await envDeletionBlocker(c, envId));
      await c.query("INSERT INTO volume_attachment_claims VALUES ($1)", [envId]);
      seen.push(await envDeletionBlocker(c, envId));
      await c.query("INSERT INTO route_claims VALUES ($1)", [envId]);
      seen.push(await envDeletionBlocker(c, envId));
      return seen;
    });
    assert.deepEqual(blockers, [null, null, "an IPv4 address", "volume attachments", "routes"]);
  });
});
