import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  assertInvalid,
  assertInvalidVersion,
  assertProblem,
  startTestServer,
  type TestServer,
  user,
} from "./http-test-kit.ts";

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(async () => {
  await t?.close();
});

const alice = user("alice@example.com");
const PRJ_RE = /^prj_[0-9A-HJKMNP-TV-Z]{26}$/;

async function newOrg(name: string, auth = alice): Promise<string> {
  const r = await t.call("POST", "/v1/orgs", { auth, body: { name } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return String(r.body.org_id);
}

async function newProject(org: string, name: string) {
  const r = await t.call("POST", `/v1/orgs/${org}/projects`, { auth: alice, body: { name } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body as { project_id: string; name: string; resource_version: number };
}

describe("projects", () => {
  test("create answers the project and an immediate GET and list show it", async () => {
    const org = await newOrg("p-basic");
    const r = await t.call("POST", `/v1/orgs/${org}/projects`, { auth: alice, body: { name: "web" } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.match(String(r.body.project_id), PRJ_RE);
    assert.equal(r.body.org_id, org);
    assert.equal(r.body.resource_version, 1);
    const read = await t.call("GET", `/v1/orgs/${org}/projects/${r.body.project_id}`, { auth: alice });
    assert.equal(read.status, 200);
    assert.deepEqual(read.body, r.body);
    const list = await t.call("GET", `/v1/orgs/${org}/projects`, { auth: alice });
    assert.deepEqual(list.body, { items: [r.body], next_cursor: null });
    const { rows } = await t.db.pool.query(
      "SELECT event_type, payload FROM events WHERE aggregate_type = 'project' AND aggregate_id = $1",
      [r.body.project_id],
    );
    assert.deepEqual(rows, [
      { event_type: "project.created", payload: { org_id: org, project_id: r.body.project_id, name: "web" } },
    ]);
  });

  test("bad bodies and ids are 400 naming the field, and write nothing", async () => {
    const org = await newOrg("p-valid");
    const p = await newProject(org, "api");
    const before = await t.eventCount();
    const post = (body: unknown) => t.call("POST", `/v1/orgs/${org}/projects`, { auth: alice, body });
    assertInvalid(await post({ name: "ok", colour: "red" }), "colour");
    assertInvalid(await post({ name: "Not_Valid" }), "name");
    assertInvalid(await post({ name: "x".repeat(64) }), "name");
    assertInvalid(await post({}), "name");
    const path = `/v1/orgs/${org}/projects/${p.project_id}`;
    assertInvalidVersion(await t.call("PATCH", path, { auth: alice, body: { name: "new" } }));
    assertInvalid(
      await t.call("PATCH", path, { auth: alice, body: { name: "-bad", expected_version: 1 } }),
      "name",
    );
    assertInvalid(await t.call("GET", `/v1/orgs/${org}/projects/app_1`, { auth: alice }), "project");
    assert.equal(await t.eventCount(), before);
  });

  test("names are unique per org, and free again after a rename or delete", async () => {
    const org = await newOrg("p-unique");
    const a = await newProject(org, "shop");
    const dup = await t.call("POST", `/v1/orgs/${org}/projects`, { auth: alice, body: { name: "shop" } });
    assertProblem(dup, 409, "conflict");
    assert.equal((dup.body.details as { field: string }[])[0]?.field, "name");
    await newProject(await newOrg("p-unique-2"), "shop");
    const path = `/v1/orgs/${org}/projects/${a.project_id}`;
    const renamed = await t.call("PATCH", path, {
      auth: alice,
      body: { name: "store", expected_version: 1 },
    });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    const b = await newProject(org, "shop");
    assertProblem(
      await t.call("PATCH", `/v1/orgs/${org}/projects/${b.project_id}`, {
        auth: alice,
        body: { name: "store", expected_version: 1 },
      }),
      409,
      "conflict",
    );
    assert.equal((await t.call("DELETE", path, { auth: alice })).status, 204);
    await newProject(org, "store");
  });

  test("PATCH renames with the current expected_version; stale is version_conflict", async () => {
    const org = await newOrg("p-patch");
    const p = await newProject(org, "one");
    const path = `/v1/orgs/${org}/projects/${p.project_id}`;
    assertProblem(
      await t.call("PATCH", path, { auth: alice, body: { name: "two", expected_version: 3 } }),
      409,
      "version_conflict",
    );
    const r = await t.call("PATCH", path, { auth: alice, body: { name: "two", expected_version: 1 } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.name, "two");
    assert.equal(r.body.resource_version, 2);
    assert.deepEqual((await t.call("GET", path, { auth: alice })).body, r.body);
    const before = await t.eventCount();
    const same = await t.call("PATCH", path, { auth: alice, body: { expected_version: 2 } });
    assert.deepEqual(same.body, r.body);
    assert.equal(await t.eventCount(), before);
  });

  test("DELETE soft-deletes: then 404 everywhere, and gone from the list", async () => {
    const org = await newOrg("p-delete");
    const p = await newProject(org, "old");
    const path = `/v1/orgs/${org}/projects/${p.project_id}`;
    assert.equal((await t.call("DELETE", path, { auth: alice })).status, 204);
    assertProblem(await t.call("GET", path, { auth: alice }), 404, "not_found");
    assertProblem(await t.call("DELETE", path, { auth: alice }), 404, "not_found");
    assertProblem(
      await t.call("PATCH", path, { auth: alice, body: { name: "again", expected_version: 2 } }),
      404,
      "not_found",
    );
    const list = await t.call("GET", `/v1/orgs/${org}/projects`, { auth: alice });
    assert.deepEqual(list.body.items, []);
  });

  test("DELETE is 409 conflict while an app references the project (apps context)", async () => {
    const org = await newOrg("p-in-use");
    const p = await newProject(org, "busy");
    const path = `/v1/orgs/${org}/projects/${p.project_id}`;
    const app = await t.call("POST", `/v1/orgs/${org}/apps`, {
      auth: alice,
      body: { name: "svc", project_id: p.project_id },
    });
    assert.equal(app.status, 201, JSON.stringify(app.body));
    const before = await t.eventCount();
    assertProblem(await t.call("DELETE", path, { auth: alice }), 409, "conflict");
    assert.equal(await t.eventCount(), before);
    assert.equal((await t.call("GET", path, { auth: alice })).status, 200);
    const gone = await t.call("DELETE", `/v1/orgs/${org}/apps/${app.body.app_id}`, { auth: alice });
    assert.equal(gone.status, 204, JSON.stringify(gone.body));
    assert.equal((await t.call("DELETE", path, { auth: alice })).status, 204);
  });

  test("unknown projects and projects of another org are 404", async () => {
    const org = await newOrg("p-404");
    const theirs = await newProject(await newOrg("p-404-other"), "theirs");
    for (const id of ["prj_01ARZ3NDEKTSV4RRFFQ69G5FAV", theirs.project_id]) {
      const path = `/v1/orgs/${org}/projects/${id}`;
      assertProblem(await t.call("GET", path, { auth: alice }), 404, "not_found");
      assertProblem(
        await t.call("PATCH", path, { auth: alice, body: { name: "x", expected_version: 1 } }),
        404,
        "not_found",
      );
      assertProblem(await t.call("DELETE", path, { auth: alice }), 404, "not_found");
    }
  });

  test("Idempotency-Key: create, PATCH and DELETE replay without appending; another body is refused", async () => {
    const org = await newOrg("p-idem");
    const url = `/v1/orgs/${org}/projects`;
    const first = await t.call("POST", url, { auth: alice, body: { name: "idem" }, key: "create-idem-1" });
    assert.equal(first.status, 201);
    const before = await t.eventCount();
    const again = await t.call("POST", url, { auth: alice, body: { name: "idem" }, key: "create-idem-1" });
    assert.equal(again.status, 201);
    assert.equal(again.headers.get("idempotency-replayed"), "true");
    assert.deepEqual(again.body, first.body);
    assertProblem(
      await t.call("POST", url, { auth: alice, body: { name: "other" }, key: "create-idem-1" }),
      409,
      "idempotency_key_reuse",
    );
    const path = `${url}/${first.body.project_id}`;
    const patch = { name: "idem-2", expected_version: 1 };
    const p1 = await t.call("PATCH", path, { auth: alice, body: patch, key: "patch-idem-1" });
    const p2 = await t.call("PATCH", path, { auth: alice, body: patch, key: "patch-idem-1" });
    assert.equal(p2.status, 200);
    assert.equal(p2.headers.get("idempotency-replayed"), "true");
    assert.deepEqual(p2.body, p1.body);
    assert.equal((await t.call("DELETE", path, { auth: alice, key: "delete-idem-1" })).status, 204);
    const d2 = await t.call("DELETE", path, { auth: alice, key: "delete-idem-1" });
    assert.equal(d2.status, 204);
    assert.equal(d2.headers.get("idempotency-replayed"), "true");
    assert.equal(await t.eventCount(), before + 2);
  });

  test("non-members are refused; a readonly member reads but cannot write", async () => {
    const org = await newOrg("p-access");
    const p = await newProject(org, "guarded");
    const path = `/v1/orgs/${org}/projects/${p.project_id}`;
    const mallory = user("mallory@example.com");
    assertProblem(await t.call("GET", path, { auth: mallory }), 403, "org_access_denied");
    assertProblem(
      await t.call("GET", `/v1/orgs/${org}/projects`, { auth: mallory }),
      403,
      "org_access_denied",
    );
    assertProblem(
      await t.call("POST", `/v1/orgs/${org}/projects`, { auth: mallory, body: { name: "evil" } }),
      403,
      "org_access_denied",
    );
    assertProblem(await t.call("DELETE", path, { auth: mallory }), 403, "org_access_denied");
    const added = await t.call("POST", `/v1/orgs/${org}/members`, {
      auth: alice,
      body: { email: "reader@example.com", role: "readonly" },
    });
    assert.equal(added.status, 201);
    const reader = user("reader@example.com");
    assert.equal((await t.call("GET", path, { auth: reader })).status, 200);
    assertProblem(
      await t.call("POST", `/v1/orgs/${org}/projects`, { auth: reader, body: { name: "mine" } }),
      403,
      "insufficient_scope",
    );
    assertProblem(
      await t.call("PATCH", path, { auth: reader, body: { name: "mine", expected_version: 1 } }),
      403,
      "insufficient_scope",
    );
    assertProblem(await t.call("DELETE", path, { auth: reader }), 403, "insufficient_scope");
  });

  test("lists page by cursor", async () => {
    const org = await newOrg("p-pages");
    const made = [];
    for (const name of ["a1", "a2", "a3"]) made.push(await newProject(org, name));
    const first = await t.call("GET", `/v1/orgs/${org}/projects?limit=2`, { auth: alice });
    assert.equal((first.body.items as unknown[]).length, 2);
    assert.ok(first.body.next_cursor);
    const second = await t.call("GET", `/v1/orgs/${org}/projects?limit=2&cursor=${first.body.next_cursor}`, {
      auth: alice,
    });
    assert.equal(second.body.next_cursor, null);
    const ids = [
      ...(first.body.items as { project_id: string }[]),
      ...(second.body.items as { project_id: string }[]),
    ];
    assert.deepEqual(
      ids.map((p) => p.project_id),
      made.map((p) => p.project_id).sort(),
    );
  });
});
