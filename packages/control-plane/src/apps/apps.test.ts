import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { newId } from "@plfm/kernel";
import { appUsage, envUsage, projectHasApps } from "./guards.ts";
import {
  addMember,
  assertProblem,
  caller,
  dev,
  eventCount,
  type Harness,
  OPERATOR_EMAIL,
  startHarness,
} from "./test-kit.ts";

let h: Harness;
let call: ReturnType<typeof caller>;
const alice = dev("alice@example.com");
const bob = dev("bob@example.com");
let orgA = "";
let orgB = "";

before(async () => {
  h = await startHarness();
  call = caller(h);
  orgA = String((await call("POST", "/v1/orgs", { auth: alice, body: { name: "org-a" } })).body.org_id);
  orgB = String((await call("POST", "/v1/orgs", { auth: bob, body: { name: "org-b" } })).body.org_id);
});
after(async () => {
  await h?.close();
});

const apps = (org: string) => `/v1/orgs/${org}/apps`;

describe("apps", () => {
  test("create answers the app, an immediate read shows it, and the list has it", async () => {
    const created = await call("POST", apps(orgA), {
      auth: alice,
      body: { name: "web-shop", description: "the shop" },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(String(created.body.app_id), /^app_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(created.body.org_id, orgA);
    assert.equal(created.body.project_id, null);
    assert.equal(created.body.description, "the shop");
    assert.equal(created.body.resource_version, 1);
    const read = await call("GET", `${apps(orgA)}/${created.body.app_id}`, { auth: alice });
    assert.equal(read.status, 200);
    assert.deepEqual(read.body, created.body);
    const list = await call("GET", apps(orgA), { auth: alice });
    assert.ok((list.body.items as { app_id: string }[]).some((a) => a.app_id === created.body.app_id));
    const { rows } = await h.db.pool.query(
      "SELECT event_type, org_id, app_id, request_id, payload FROM events WHERE aggregate_id = $1",
      [created.body.app_id],
    );
    assert.deepEqual(rows, [
      {
        event_type: "app.created",
        request_id: created.headers.get("x-request-id"),
        org_id: orgA,
        app_id: created.body.app_id,
        payload: { app_id: created.body.app_id, org_id: orgA, name: "web-shop", description: "the shop" },
      },
    ]);
  });

  test("bad bodies are 400 with the field, and write nothing", async () => {
    const before = await eventCount(h);
    const cases: [unknown, string][] = [
      [{ name: "ok", colour: "red" }, "colour"],
      [{ name: "Not_Valid" }, "name"],
      [{ name: "x".repeat(64) }, "name"],
      [{}, "name"],
      [{ name: "ok", description: "d".repeat(257) }, "description"],
      [{ name: "ok", project_id: "prj_nope" }, "project_id"],
      [{ name: 42 }, "name"],
    ];
    for (const [body, field] of cases) {
      assertProblem(await call("POST", apps(orgA), { auth: alice, body }), 400, "invalid_argument", field);
    }
    assertProblem(
      await call("GET", `${apps(orgA)}/not-an-id`, { auth: alice }),
      400,
      "invalid_argument",
      "app",
    );
    assert.equal(await eventCount(h), before);
  });

  test("a project_id must be a live project of the same org; the app is recorded in it", async () => {
    const project = async (auth: string, org: string, name: string) => {
      const r = await call("POST", `/v1/orgs/${org}/projects`, { auth, body: { name } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return String(r.body.project_id);
    };
    const mine = await project(alice, orgA, "backend");
    const theirs = await project(bob, orgB, "backend");
    for (const projectId of [newId("prj"), theirs]) {
      assertProblem(
        await call("POST", apps(orgA), { auth: alice, body: { name: "in-project", project_id: projectId } }),
        400,
        "invalid_argument",
        "project_id",
      );
    }
    const app = await call("POST", apps(orgA), {
      auth: alice,
      body: { name: "in-project", project_id: mine },
    });
    assert.equal(app.status, 201, JSON.stringify(app.body));
    assert.equal(app.body.project_id, mine);
    assert.equal(await projectHasApps(h.db.pool, mine), true);
    const path = `${apps(orgA)}/${app.body.app_id}`;
    assertProblem(
      await call("PATCH", path, { auth: alice, body: { project_id: theirs, expected_version: 1 } }),
      400,
      "invalid_argument",
      "project_id",
    );
    const moved = await call("PATCH", path, { auth: alice, body: { project_id: null, expected_version: 1 } });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.equal(moved.body.project_id, null);
    assert.deepEqual((await call("GET", path, { auth: alice })).body, moved.body);
    assert.equal(await projectHasApps(h.db.pool, mine), false);
  });

  test("app and env creation respect the org's max_apps and max_envs quotas", async () => {
    const org = String(
      (await call("POST", "/v1/orgs", { auth: alice, body: { name: "quota-co" } })).body.org_id,
    );
    const app = await call("POST", apps(org), { auth: alice, body: { name: "one" } });
    await call("POST", `${apps(org)}/${app.body.app_id}/envs`, { auth: alice, body: { name: "prod" } });
    assert.equal(await appUsage(h.db.pool, org), 1);
    assert.equal(await envUsage(h.db.pool, org), 1);
    const ops = dev(OPERATOR_EMAIL);
    for (const dimension of ["max_apps", "max_envs"]) {
      const set = await call("PUT", `/v1/orgs/${org}/quotas/${dimension}`, {
        auth: ops,
        body: { limit_value: 0 },
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
    }
    const before = await eventCount(h);
    const refused = await call("POST", apps(org), { auth: alice, body: { name: "two" } });
    assertProblem(refused, 409, "quota_exceeded");
    assert.equal((refused.body.quota as { dimension: string }).dimension, "max_apps");
    const envRefused = await call("POST", `${apps(org)}/${app.body.app_id}/envs`, {
      auth: alice,
      body: { name: "staging" },
    });
    assertProblem(envRefused, 409, "quota_exceeded");
    assert.equal((envRefused.body.quota as { dimension: string }).dimension, "max_envs");
    assert.equal(await eventCount(h), before);
  });

  test("names are unique per org, not across orgs", async () => {
    assert.equal((await call("POST", apps(orgA), { auth: alice, body: { name: "api" } })).status, 201);
    assertProblem(
      await call("POST", apps(orgA), { auth: alice, body: { name: "api" } }),
      409,
      "conflict",
      "name",
    );
    assert.equal((await call("POST", apps(orgB), { auth: bob, body: { name: "api" } })).status, 201);
  });

  test("an unknown app is 404 for read, update and delete", async () => {
    const path = `${apps(orgA)}/${newId("app")}`;
    assertProblem(await call("GET", path, { auth: alice }), 404, "not_found");
    assertProblem(
      await call("PATCH", path, { auth: alice, body: { name: "x", expected_version: 1 } }),
      404,
      "not_found",
    );
    assertProblem(await call("DELETE", path, { auth: alice }), 404, "not_found");
  });

  test("PATCH needs the current expected_version; a rename frees the old name; null clears", async () => {
    const app = await call("POST", apps(orgA), {
      auth: alice,
      body: { name: "old-app", description: "to clear" },
    });
    const path = `${apps(orgA)}/${app.body.app_id}`;
    const before = await eventCount(h);
    assertProblem(
      await call("PATCH", path, { auth: alice, body: { name: "new-app", expected_version: 2 } }),
      409,
      "version_conflict",
    );
    assertProblem(
      await call("PATCH", path, { auth: alice, body: { name: "new-app" } }),
      400,
      "invalid_expected_version",
      "expected_version",
    );
    assertProblem(
      await call("PATCH", path, { auth: alice, body: { expected_version: -1 } }),
      400,
      "invalid_expected_version",
      "expected_version",
    );
    assert.equal(await eventCount(h), before);
    const patched = await call("PATCH", path, {
      auth: alice,
      body: { name: "new-app", description: null, expected_version: 1 },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.name, "new-app");
    assert.equal(patched.body.description, null);
    assert.equal(patched.body.resource_version, 2);
    assert.deepEqual((await call("GET", path, { auth: alice })).body, patched.body);
    assert.equal((await call("POST", apps(orgA), { auth: alice, body: { name: "old-app" } })).status, 201);
    assertProblem(
      await call("POST", apps(orgA), { auth: alice, body: { name: "new-app" } }),
      409,
      "conflict",
    );
    const same = await call("PATCH", path, { auth: alice, body: { name: "new-app", expected_version: 2 } });
    assert.equal(same.status, 200);
    assert.equal(same.body.resource_version, 2, "an unchanged name is no change");
  });

  test("an Idempotency-Key replays create and update and appends nothing; another body is refused", async () => {
    const key = "create-app-0001";
    const first = await call("POST", apps(orgA), { auth: alice, body: { name: "replayed" }, key });
    assert.equal(first.status, 201);
    const before = await eventCount(h);
    const again = await call("POST", apps(orgA), { auth: alice, body: { name: "replayed" }, key });
    assert.equal(again.status, 201);
    assert.equal(again.headers.get("idempotency-replayed"), "true");
    assert.deepEqual(again.body, first.body);
    assertProblem(
      await call("POST", apps(orgA), { auth: alice, body: { name: "replayed-2" }, key }),
      409,
      "idempotency_key_reuse",
    );
    const path = `${apps(orgA)}/${first.body.app_id}`;
    const patchKey = "patch-app-0001";
    const body = { description: "v2", expected_version: 1 };
    const p1 = await call("PATCH", path, { auth: alice, body, key: patchKey });
    assert.equal(p1.status, 200);
    const p2 = await call("PATCH", path, { auth: alice, body, key: patchKey });
    assert.equal(p2.headers.get("idempotency-replayed"), "true");
    assert.deepEqual(p2.body, p1.body);
    assert.equal(await eventCount(h), before + 1);
  });

  test("concurrent creates with one key make one app", async () => {
    const key = "create-app-race-1";
    const replies = await Promise.all(
      [1, 2, 3].map(() => call("POST", apps(orgA), { auth: alice, body: { name: "raced" }, key })),
    );
    for (const r of replies) assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(new Set(replies.map((r) => r.body.app_id)).size, 1);
  });

  test("another org's apps: 403 through its path, 404 through yours", async () => {
    const app = await call("POST", apps(orgA), { auth: alice, body: { name: "secret-app" } });
    assertProblem(await call("GET", apps(orgA), { auth: bob }), 403, "org_access_denied");
    assertProblem(
      await call("GET", `${apps(orgA)}/${app.body.app_id}`, { auth: bob }),
      403,
      "org_access_denied",
    );
    assertProblem(
      await call("POST", apps(orgA), { auth: bob, body: { name: "intruder" } }),
      403,
      "org_access_denied",
    );
    const viaB = `${apps(orgB)}/${app.body.app_id}`;
    assertProblem(await call("GET", viaB, { auth: bob }), 404, "not_found");
    assertProblem(
      await call("PATCH", viaB, { auth: bob, body: { name: "stolen", expected_version: 1 } }),
      404,
      "not_found",
    );
    assertProblem(await call("DELETE", viaB, { auth: bob }), 404, "not_found");
    const bobs = (await call("GET", apps(orgB), { auth: bob })).body.items as { app_id: string }[];
    assert.ok(!bobs.some((a) => a.app_id === app.body.app_id));
    assertProblem(await call("GET", apps(orgA)), 401, "unauthorized");
  });

  test("a readonly member reads apps but cannot create, update or delete one", async () => {
    await addMember(h, alice, orgA, "reader@example.com", "readonly");
    const reader = dev("reader@example.com");
    const app = await call("POST", apps(orgA), { auth: alice, body: { name: "read-me" } });
    assert.equal((await call("GET", apps(orgA), { auth: reader })).status, 200);
    assert.equal((await call("GET", `${apps(orgA)}/${app.body.app_id}`, { auth: reader })).status, 200);
    const before = await eventCount(h);
    assertProblem(
      await call("POST", apps(orgA), { auth: reader, body: { name: "not-allowed" } }),
      403,
      "insufficient_scope",
    );
    assertProblem(
      await call("PATCH", `${apps(orgA)}/${app.body.app_id}`, {
        auth: reader,
        body: { name: "nope", expected_version: 1 },
      }),
      403,
      "insufficient_scope",
    );
    assertProblem(
      await call("DELETE", `${apps(orgA)}/${app.body.app_id}`, { auth: reader }),
      403,
      "insufficient_scope",
    );
    assert.equal(await eventCount(h), before);
  });

  test("delete is refused while envs exist; afterwards the app is gone and its name free", async () => {
    const app = await call("POST", apps(orgA), { auth: alice, body: { name: "doomed" } });
    const path = `${apps(orgA)}/${app.body.app_id}`;
    const env = await call("POST", `${path}/envs`, { auth: alice, body: { name: "prod" } });
    assert.equal(env.status, 201, JSON.stringify(env.body));
    assertProblem(await call("DELETE", path, { auth: alice }), 409, "conflict");
    assert.equal((await call("DELETE", `${path}/envs/${env.body.env_id}`, { auth: alice })).status, 204);
    const key = "delete-app-0001";
    const deleted = await call("DELETE", path, { auth: alice, key });
    assert.equal(deleted.status, 204);
    const again = await call("DELETE", path, { auth: alice, key });
    assert.equal(again.status, 204);
    assert.equal(again.headers.get("idempotency-replayed"), "true");
    assertProblem(await call("GET", path, { auth: alice }), 404, "not_found");
    assertProblem(await call("DELETE", path, { auth: alice }), 404, "not_found");
    assertProblem(
      await call("POST", `${path}/envs`, { auth: alice, body: { name: "late" } }),
      404,
      "not_found",
    );
    const list = (await call("GET", apps(orgA), { auth: alice })).body.items as { app_id: string }[];
    assert.ok(!list.some((a) => a.app_id === app.body.app_id));
    assert.equal((await call("POST", apps(orgA), { auth: alice, body: { name: "doomed" } })).status, 201);
  });

  test("an env created while its app is deleted: exactly one of the two wins", async () => {
    for (let i = 0; i < 5; i++) {
      const app = await call("POST", apps(orgA), { auth: alice, body: { name: `racy-${i}` } });
      const path = `${apps(orgA)}/${app.body.app_id}`;
      const [del, env] = await Promise.all([
        call("DELETE", path, { auth: alice }),
        call("POST", `${path}/envs`, { auth: alice, body: { name: "prod" } }),
      ]);
      const outcome = `${del.status}/${env.status}`;
      assert.ok(outcome === "204/404" || outcome === "409/201", outcome);
    }
  });

  test("lists page by cursor; a tampered cursor is 400 invalid_cursor", async () => {
    const all = (await call("GET", `${apps(orgA)}?limit=200`, { auth: alice })).body;
    assert.equal(all.next_cursor, null);
    const items = all.items as { app_id: string }[];
    assert.ok(items.length >= 3);
    const first = await call("GET", `${apps(orgA)}?limit=1`, { auth: alice });
    const second = await call("GET", `${apps(orgA)}?limit=1&cursor=${first.body.next_cursor}`, {
      auth: alice,
    });
    assert.equal((second.body.items as { app_id: string }[])[0]?.app_id, items[1]?.app_id);
    assertProblem(
      await call("GET", `${apps(orgA)}?cursor=p1.bm9wZQ`, { auth: alice }),
      400,
      "invalid_cursor",
    );
  });
});
