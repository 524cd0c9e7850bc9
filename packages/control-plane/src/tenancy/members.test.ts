import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { userIdFor } from "../auth/tokens.ts";
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
const MEM_RE = /^mem_[0-9A-HJKMNP-TV-Z]{26}$/;

async function newOrg(name: string, auth = alice): Promise<string> {
  const r = await t.call("POST", "/v1/orgs", { auth, body: { name } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return String(r.body.org_id);
}

async function add(org: string, email: string, role: string, auth = alice) {
  const r = await t.call("POST", `/v1/orgs/${org}/members`, { auth, body: { email, role } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body as { member_id: string; resource_version: number; role: string };
}

async function members(org: string) {
  const r = await t.call("GET", `/v1/orgs/${org}/members?limit=200`, { auth: alice });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.items as { member_id: string; email: string; role: string; resource_version: number }[];
}

const ownerOf = async (org: string) =>
  (await members(org)).find((m) => m.email === "alice@example.com") as { member_id: string };

describe("members", () => {
  test("the creator is owner; adding a member answers it and an immediate list shows it", async () => {
    const org = await newOrg("m-basic");
    assert.deepEqual(
      (await members(org)).map((m) => [m.email, m.role]),
      [["alice@example.com", "owner"]],
    );
    const bob = await t.call("POST", `/v1/orgs/${org}/members`, {
      auth: alice,
      body: { email: "Bob@Example.com", role: "developer" },
    });
    assert.equal(bob.status, 201, JSON.stringify(bob.body));
    assert.match(String(bob.body.member_id), MEM_RE);
    assert.equal(bob.body.email, "bob@example.com");
    assert.equal(bob.body.user_id, userIdFor("bob@example.com"));
    assert.equal(bob.body.org_id, org);
    assert.equal(bob.body.resource_version, 1);
    const listed = (await members(org)).find((m) => m.member_id === bob.body.member_id);
    assert.deepEqual(listed, bob.body);
    // Bob is now a member: he may read the org, not administer it.
    const bobAuth = user("bob@example.com");
    assert.equal((await t.call("GET", `/v1/orgs/${org}`, { auth: bobAuth })).status, 200);
    const { rows } = await t.db.pool.query(
      "SELECT payload FROM events WHERE aggregate_id = $1 AND event_type = 'org_member.added'",
      [bob.body.member_id],
    );
    assert.deepEqual(rows[0].payload, {
      org_id: org,
      member_id: bob.body.member_id,
      user_id: userIdFor("bob@example.com"),
      email: "bob@example.com",
      role: "developer",
    });
  });

  test("bad bodies and ids are 400 naming the field, and write nothing", async () => {
    const org = await newOrg("m-valid");
    const owner = await ownerOf(org);
    const before = await t.eventCount();
    const post = (body: unknown) => t.call("POST", `/v1/orgs/${org}/members`, { auth: alice, body });
    assertInvalid(await post({ email: "x@example.com", role: "developer", colour: "red" }), "colour");
    assertInvalid(await post({ email: "not-an-email", role: "developer" }), "email");
    assertInvalid(await post({ email: "x@example.com", role: "superuser" }), "role");
    assertInvalid(await post({ email: "x@example.com" }), "role");
    assertInvalid(await post({ role: "admin" }), "email");
    const path = `/v1/orgs/${org}/members/${owner.member_id}`;
    assertInvalidVersion(await t.call("PATCH", path, { auth: alice, body: { role: "admin" } }));
    assertInvalidVersion(
      await t.call("PATCH", path, { auth: alice, body: { role: "admin", expected_version: -1 } }),
    );
    assertInvalid(await t.call("DELETE", `/v1/orgs/${org}/members/usr_1`, { auth: alice }), "member");
    assert.equal(await t.eventCount(), before);
  });

  test("emails are unique per org (the creator's too) and free again after removal", async () => {
    const org = await newOrg("m-unique");
    const carol = await add(org, "carol@example.com", "readonly");
    const dup = await t.call("POST", `/v1/orgs/${org}/members`, {
      auth: alice,
      body: { email: "CAROL@example.com", role: "admin" },
    });
    assertProblem(dup, 409, "conflict");
    assert.equal((dup.body.details as { field: string }[])[0]?.field, "email");
    assertProblem(
      await t.call("POST", `/v1/orgs/${org}/members`, {
        auth: alice,
        body: { email: "alice@example.com", role: "admin" },
      }),
      409,
      "conflict",
    );
    // Another org may have the same member.
    await add(await newOrg("m-unique-2"), "carol@example.com", "readonly");
    const del = await t.call("DELETE", `/v1/orgs/${org}/members/${carol.member_id}`, { auth: alice });
    assert.equal(del.status, 204, JSON.stringify(del.body));
    assert.ok(!(await members(org)).some((m) => m.member_id === carol.member_id));
    assertProblem(
      await t.call("GET", `/v1/orgs/${org}`, { auth: user("carol@example.com") }),
      403,
      "org_access_denied",
    );
    const again = await add(org, "carol@example.com", "admin");
    assert.notEqual(again.member_id, carol.member_id);
  });

  test("PATCH changes the role with the current expected_version; stale is version_conflict", async () => {
    const org = await newOrg("m-patch");
    const dan = await add(org, "dan@example.com", "readonly");
    const path = `/v1/orgs/${org}/members/${dan.member_id}`;
    assertProblem(
      await t.call("PATCH", path, { auth: alice, body: { role: "admin", expected_version: 7 } }),
      409,
      "version_conflict",
    );
    const r = await t.call("PATCH", path, { auth: alice, body: { role: "admin", expected_version: 1 } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.role, "admin");
    assert.equal(r.body.resource_version, 2);
    assert.deepEqual(
      (await members(org)).find((m) => m.member_id === dan.member_id),
      r.body,
    );
    // The same role again appends nothing and answers the member as it is.
    const before = await t.eventCount();
    const same = await t.call("PATCH", path, { auth: alice, body: { role: "admin", expected_version: 2 } });
    assert.equal(same.status, 200);
    assert.deepEqual(same.body, r.body);
    assert.equal(await t.eventCount(), before);
    assertProblem(
      await t.call("PATCH", path, { auth: alice, body: { role: "developer", expected_version: 1 } }),
      409,
      "version_conflict",
    );
  });

  test("unknown members, and members of another org, are 404", async () => {
    const org = await newOrg("m-404");
    const other = await newOrg("m-404-other");
    const theirs = await add(other, "erin@example.com", "readonly");
    for (const id of ["mem_01ARZ3NDEKTSV4RRFFQ69G5FAV", theirs.member_id]) {
      const path = `/v1/orgs/${org}/members/${id}`;
      assertProblem(
        await t.call("PATCH", path, { auth: alice, body: { role: "admin", expected_version: 1 } }),
        404,
        "not_found",
      );
      assertProblem(await t.call("DELETE", path, { auth: alice }), 404, "not_found");
    }
    const removed = await add(org, "frank@example.com", "readonly");
    const path = `/v1/orgs/${org}/members/${removed.member_id}`;
    assert.equal((await t.call("DELETE", path, { auth: alice })).status, 204);
    assertProblem(await t.call("DELETE", path, { auth: alice }), 404, "not_found");
  });

  test("Idempotency-Key: add, PATCH and DELETE replay without appending; another body is refused", async () => {
    const org = await newOrg("m-idem");
    const body = { email: "gina@example.com", role: "developer" };
    const first = await t.call("POST", `/v1/orgs/${org}/members`, { auth: alice, body, key: "add-gina-01" });
    assert.equal(first.status, 201);
    const before = await t.eventCount();
    const again = await t.call("POST", `/v1/orgs/${org}/members`, { auth: alice, body, key: "add-gina-01" });
    assert.equal(again.status, 201);
    assert.equal(again.headers.get("idempotency-replayed"), "true");
    assert.deepEqual(again.body, first.body);
    assertProblem(
      await t.call("POST", `/v1/orgs/${org}/members`, {
        auth: alice,
        body: { ...body, role: "admin" },
        key: "add-gina-01",
      }),
      409,
      "idempotency_key_reuse",
    );
    const path = `/v1/orgs/${org}/members/${first.body.member_id}`;
    const patch = { role: "admin", expected_version: 1 };
    const p1 = await t.call("PATCH", path, { auth: alice, body: patch, key: "patch-gina-1" });
    assert.equal(p1.status, 200);
    const p2 = await t.call("PATCH", path, { auth: alice, body: patch, key: "patch-gina-1" });
    assert.equal(p2.status, 200);
    assert.equal(p2.headers.get("idempotency-replayed"), "true");
    assert.deepEqual(p2.body, p1.body);
    const d1 = await t.call("DELETE", path, { auth: alice, key: "delete-gina-1" });
    assert.equal(d1.status, 204);
    const d2 = await t.call("DELETE", path, { auth: alice, key: "delete-gina-1" });
    assert.equal(d2.status, 204);
    assert.equal(d2.headers.get("idempotency-replayed"), "true");
    assert.equal(await t.eventCount(), before + 2);
  });

  test("non-members are refused (403 org_access_denied); a readonly member cannot manage members", async () => {
    const org = await newOrg("m-access");
    const mallory = user("mallory@example.com");
    assertProblem(
      await t.call("GET", `/v1/orgs/${org}/members`, { auth: mallory }),
      403,
      "org_access_denied",
    );
    assertProblem(
      await t.call("POST", `/v1/orgs/${org}/members`, {
        auth: mallory,
        body: { email: "mallory@example.com", role: "owner" },
      }),
      403,
      "org_access_denied",
    );
    assertProblem(await t.call("GET", `/v1/orgs/${org}/members`), 401, "unauthorized");
    const ro = await add(org, "reader@example.com", "readonly");
    const reader = user("reader@example.com");
    assert.equal((await t.call("GET", `/v1/orgs/${org}/members`, { auth: reader })).status, 200);
    const denied = await t.call("POST", `/v1/orgs/${org}/members`, {
      auth: reader,
      body: { email: "friend@example.com", role: "readonly" },
    });
    assertProblem(denied, 403, "insufficient_scope");
    assert.equal(denied.body.required_scope, "orgs:admin");
    assertProblem(
      await t.call("PATCH", `/v1/orgs/${org}/members/${ro.member_id}`, {
        auth: reader,
        body: { role: "owner", expected_version: 1 },
      }),
      403,
      "insufficient_scope",
    );
    assertProblem(
      await t.call("DELETE", `/v1/orgs/${org}/members/${ro.member_id}`, { auth: reader }),
      403,
      "insufficient_scope",
    );
  });

  test("the last owner can be neither removed nor demoted (409 last_owner_required)", async () => {
    const org = await newOrg("m-owner");
    const owner = await ownerOf(org);
    const path = `/v1/orgs/${org}/members/${owner.member_id}`;
    const before = await t.eventCount();
    assertProblem(await t.call("DELETE", path, { auth: alice }), 409, "last_owner_required");
    assertProblem(
      await t.call("PATCH", path, { auth: alice, body: { role: "admin", expected_version: 1 } }),
      409,
      "last_owner_required",
    );
    assert.equal(await t.eventCount(), before);
    // With a second owner, alice may step down; then the other is the last one.
    const hank = await add(org, "hank@example.com", "owner");
    const down = await t.call("PATCH", path, { auth: alice, body: { role: "admin", expected_version: 1 } });
    assert.equal(down.status, 200, JSON.stringify(down.body));
    const hankAuth = user("hank@example.com");
    const hankPath = `/v1/orgs/${org}/members/${hank.member_id}`;
    assertProblem(await t.call("DELETE", hankPath, { auth: hankAuth }), 409, "last_owner_required");
    assertProblem(
      await t.call("PATCH", hankPath, { auth: hankAuth, body: { role: "readonly", expected_version: 1 } }),
      409,
      "last_owner_required",
    );
  });

  test("two owners demoting each other at once: exactly one wins", async () => {
    const org = await newOrg("m-race");
    const owner = await ownerOf(org);
    const ivy = await add(org, "ivy@example.com", "owner");
    const [a, b] = await Promise.all([
      t.call("PATCH", `/v1/orgs/${org}/members/${owner.member_id}`, {
        auth: alice,
        body: { role: "admin", expected_version: 1 },
      }),
      t.call("DELETE", `/v1/orgs/${org}/members/${ivy.member_id}`, { auth: user("ivy@example.com") }),
    ]);
    const loser = a.status === 409 ? a : b;
    const winner = loser === a ? b : a;
    assert.ok([200, 204].includes(winner.status), JSON.stringify(winner.body));
    assertProblem(loser, 409, "last_owner_required");
    assert.equal((await members(org)).filter((m) => m.role === "owner").length, 1);
  });

  test("only owners grant or revoke the owner role", async () => {
    const org = await newOrg("m-escalate");
    const owner = await ownerOf(org);
    await add(org, "admin@example.com", "admin");
    const adminAuth = user("admin@example.com");
    const self = (await members(org)).find((m) => m.email === "admin@example.com") as { member_id: string };
    assertProblem(
      await t.call("PATCH", `/v1/orgs/${org}/members/${self.member_id}`, {
        auth: adminAuth,
        body: { role: "owner", expected_version: 1 },
      }),
      403,
      "forbidden",
    );
    assertProblem(
      await t.call("POST", `/v1/orgs/${org}/members`, {
        auth: adminAuth,
        body: { email: "crony@example.com", role: "owner" },
      }),
      403,
      "forbidden",
    );
    assertProblem(
      await t.call("DELETE", `/v1/orgs/${org}/members/${owner.member_id}`, { auth: adminAuth }),
      403,
      "forbidden",
    );
    // Admins manage the other roles.
    const dev = await add(org, "dev@example.com", "developer", adminAuth);
    assert.equal(dev.role, "developer");
  });

  test("membership changes are audited in the command's transaction and logged with audit: true", async () => {
    const org = await newOrg("m-audit");
    const jo = await add(org, "jo@example.com", "readonly");
    const path = `/v1/orgs/${org}/members/${jo.member_id}`;
    await t.call("PATCH", path, { auth: alice, body: { role: "developer", expected_version: 1 } });
    await t.call("DELETE", path, { auth: alice });
    const { rows } = await t.db.pool.query(
      `SELECT action, actor_type, actor_id, target_type, target_id, request_id, details
         FROM audit_log WHERE org_id = $1 ORDER BY audit_id`,
      [org],
    );
    const owner = await ownerOf(org);
    assert.deepEqual(
      rows.map((r) => [r.action, r.target_id]),
      [
        ["org_member.added", owner.member_id],
        ["org_member.added", jo.member_id],
        ["org_member.role_updated", jo.member_id],
        ["org_member.removed", jo.member_id],
      ],
    );
    assert.deepEqual(rows[0].details, { email: "alice@example.com", role: "owner" });
    assert.deepEqual(rows[2].details, { old_role: "readonly", new_role: "developer" });
    assert.deepEqual(rows[3].details, { email: "jo@example.com", role: "developer" });
    for (const r of rows) {
      assert.equal(r.actor_type, "user");
      assert.equal(r.actor_id, userIdFor("alice@example.com"));
      assert.equal(r.target_type, "org_member");
      assert.match(r.request_id, /^req_/);
    }
    // The events of the role change carry the same request id as its audit row.
    const ev = await t.db.pool.query(
      "SELECT request_id, payload FROM events WHERE aggregate_id = $1 AND event_type = 'org_member.role_updated'",
      [jo.member_id],
    );
    assert.equal(ev.rows[0].request_id, rows[2].request_id);
    assert.deepEqual(ev.rows[0].payload, {
      org_id: org,
      member_id: jo.member_id,
      old_role: "readonly",
      new_role: "developer",
    });
    const lines = t.logLines.filter((l) => l.audit === true && l.target_id === jo.member_id);
    assert.deepEqual(
      lines.map((l) => l.action),
      ["org_member.added", "org_member.role_updated", "org_member.removed"],
    );
  });
});
