// Service principals end to end over HTTP: CRUD, validation, idempotency, access (spec §2.2,
// §4.4, §4.5). Extra members are inserted straight into org_members (the
// tenancy view) so this file does not depend on the members API.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { newId } from "@plfm/kernel";
import { assertProblem, createOrg, dev, type Harness, startHarness } from "./test-kit.ts";
import { userIdFor } from "./tokens.ts";

let h: Harness;
let orgA: string;
let orgB: string;
const alice = dev("alice@example.com"); // owner of A
const bob = dev("bob@example.com"); // owner of B
const carol = dev("carol@example.com"); // admin of A
const dave = dev("dave@example.com"); // readonly in A

before(async () => {
  h = await startHarness();
  orgA = await createOrg(h.call, alice, "org-a");
  orgB = await createOrg(h.call, bob, "org-b");
  for (const [email, role] of [
    ["carol@example.com", "admin"],
    ["dave@example.com", "readonly"],
  ] as const) {
    await h.db.pool.query(
      `INSERT INTO org_members (member_id, org_id, user_id, email, role, resource_version, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, 1, now(), now())`,
      [newId("mem"), orgA, userIdFor(email), email, role],
    );
  }
});
after(() => h?.close());

const sps = (org: string) => `/v1/orgs/${org}/service-principals`;
type Created = { service_principal: Record<string, unknown>; client_id: string; client_secret?: string };

async function createSp(name: string, scopes: string[], auth = alice, org = () => orgA): Promise<Created> {
  const r = await h.call("POST", sps(org()), { auth, body: { name, scopes } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body as unknown as Created;
}
describe("service principals", () => {
  test("create answers the secret once; reads show the principal without it; the secret is stored as argon2id", async () => {
    const sp = await createSp("deployer", ["orgs:read", "apps:write", "apps:read"]);
    const view = sp.service_principal;
    assert.match(String(view.service_principal_id), /^sp_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(sp.client_id, view.service_principal_id);
    assert.equal(view.client_id, sp.client_id);
    assert.deepEqual(view.scopes, ["apps:read", "apps:write", "orgs:read"]);
    assert.equal(view.resource_version, 1);
    assert.match(String(sp.client_secret), /^[A-Za-z0-9_-]{43}$/);
    const read = await h.call("GET", `${sps(orgA)}/${sp.client_id}`, { auth: alice });
    assert.deepEqual(read.body, view);
    const list = await h.call("GET", sps(orgA), { auth: alice });
    assert.ok((list.body.items as { client_id: string }[]).some((s) => s.client_id === sp.client_id));
    const { rows } = await h.db.pool.query(
      "SELECT client_secret_hash FROM service_principal_secrets WHERE service_principal_id = $1",
      [sp.client_id],
    );
    assert.match(rows[0].client_secret_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const events = await h.db.pool.query("SELECT event_type, payload FROM events WHERE aggregate_id = $1", [
      sp.client_id,
    ]);
    assert.equal(events.rows[0].event_type, "service_principal.created");
    assert.deepEqual(events.rows[0].payload, {
      service_principal_id: sp.client_id,
      org_id: orgA,
      name: "deployer",
      scopes: ["apps:read", "apps:write", "orgs:read"],
    });
    const everything = (
      await h.db.pool.query("SELECT string_agg(row_to_json(e)::text, '') AS t FROM events e")
    ).rows[0].t;
    assert.ok(!everything.includes(String(sp.client_secret)));
    // Audited, with the request id and without the secret.
    const audit = await h.db.pool.query(
      "SELECT action, org_id, request_id, details, details::text AS raw FROM audit_log WHERE target_id = $1",
      [sp.client_id],
    );
    assert.equal(audit.rows.length, 1);
    assert.equal(audit.rows[0].action, "service_principal.created");
    assert.equal(audit.rows[0].org_id, orgA);
    assert.match(audit.rows[0].request_id, /^req_/);
    assert.ok(!audit.rows[0].raw.includes(String(sp.client_secret)));
    const ev = await h.db.pool.query("SELECT request_id FROM events WHERE aggregate_id = $1", [sp.client_id]);
    assert.equal(
      ev.rows[0].request_id,
      audit.rows[0].request_id,
      "the event and the audit row share the request id",
    );
  });

  test("names are unique per org; bad bodies name the field and write nothing", async () => {
    await createSp("dup", ["orgs:read"]);
    assertProblem(
      await h.call("POST", sps(orgA), { auth: alice, body: { name: "dup", scopes: ["orgs:read"] } }),
      409,
      "conflict",
      "name",
    );
    await createSp("dup", ["orgs:read"], bob, () => orgB);
    const before = (await h.db.pool.query("SELECT count(*)::int AS n FROM events")).rows[0].n;
    const cases: [unknown, string][] = [
      [{ name: "Bad_Name", scopes: ["orgs:read"] }, "name"],
      [{ name: "ok", scopes: ["nodes:admin"] }, "scopes.0"],
      [{ name: "ok", scopes: ["orgs:read", "orgs:read"] }, "scopes"],
      [{ name: "ok", scopes: [] }, "scopes"],
      [{ name: "ok" }, "scopes"],
      [{ name: "ok", scopes: ["orgs:read"], secret: "mine" }, "secret"],
    ];
    for (const [body, field] of cases) {
      assertProblem(await h.call("POST", sps(orgA), { auth: alice, body }), 400, "invalid_argument", field);
    }
    assert.equal((await h.db.pool.query("SELECT count(*)::int AS n FROM events")).rows[0].n, before);
  });

  test("an Idempotency-Key replays the create without the secret and appends nothing; another body is refused", async () => {
    const key = "create-sp-replay-0001";
    const body = { name: "replayed", scopes: ["orgs:read"] };
    const first = await h.call("POST", sps(orgA), { auth: alice, body, key });
    assert.equal(first.status, 201);
    const count = (await h.db.pool.query("SELECT count(*)::int AS n FROM events")).rows[0].n;
    const again = await h.call("POST", sps(orgA), { auth: alice, body, key });
    assert.equal(again.status, 201);
    assert.equal(again.headers.get("idempotency-replayed"), "true");
    assert.deepEqual(again.body.service_principal, first.body.service_principal);
    assert.equal(again.body.client_secret, undefined, "a replay never shows the secret again");
    assert.equal((await h.db.pool.query("SELECT count(*)::int AS n FROM events")).rows[0].n, count);
    const stored = (
      await h.db.pool.query("SELECT string_agg(response::text, '') AS t FROM idempotency_records")
    ).rows[0].t;
    assert.ok(!String(stored).includes(String(first.body.client_secret)));
    assertProblem(
      await h.call("POST", sps(orgA), { auth: alice, body: { ...body, name: "other" }, key }),
      409,
      "idempotency_key_reuse",
    );
  });

  test("access: orgs:admin needed (readonly 403), other orgs 403, another org's principal 404", async () => {
    const sp = await createSp("guarded", ["orgs:read"]);
    assertProblem(await h.call("GET", sps(orgA), { auth: dave }), 403, "insufficient_scope");
    assertProblem(
      await h.call("POST", sps(orgA), { auth: dave, body: { name: "x", scopes: ["orgs:read"] } }),
      403,
      "insufficient_scope",
    );
    assertProblem(await h.call("GET", sps(orgA), { auth: bob }), 403, "org_access_denied");
    assertProblem(
      await h.call("GET", `${sps(orgA)}/${sp.client_id}`, { auth: bob }),
      403,
      "org_access_denied",
    );
    // Bob is owner of B: A's principal does not exist there.
    assertProblem(await h.call("GET", `${sps(orgB)}/${sp.client_id}`, { auth: bob }), 404, "not_found");
    assertProblem(
      await h.call("POST", `${sps(orgB)}/${sp.client_id}/rotate-secret`, { auth: bob }),
      404,
      "not_found",
    );
    assertProblem(await h.call("DELETE", `${sps(orgB)}/${sp.client_id}`, { auth: bob }), 404, "not_found");
    assertProblem(
      await h.call("PATCH", `${sps(orgB)}/${sp.client_id}`, {
        auth: bob,
        body: { scopes: ["orgs:read"], expected_version: 1 },
      }),
      404,
      "not_found",
    );
    assertProblem(await h.call("GET", sps(orgA)), 401, "unauthorized");
  });

  test("nobody grants what they do not hold: an admin cannot give billing:write", async () => {
    assertProblem(
      await h.call("POST", sps(orgA), { auth: carol, body: { name: "biller", scopes: ["billing:write"] } }),
      403,
      "insufficient_scope",
      "scopes",
    );
    const ok = await createSp("admins-own", ["apps:read"], carol);
    assert.deepEqual(ok.service_principal.scopes, ["apps:read"]);
  });
});
