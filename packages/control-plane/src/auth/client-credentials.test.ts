// Client credentials and what service-principal changes do to tokens, over
// HTTP (spec §2.2, §4.4, §4.5).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { newId } from "@plfm/kernel";
import { assertProblem, bearer, createOrg, dev, type Harness, startHarness } from "./test-kit.ts";

let h: Harness;
let orgA: string;
let orgB: string;
const alice = dev("alice@example.com"); // owner of A
const bob = dev("bob@example.com"); // owner of B

before(async () => {
  h = await startHarness();
  orgA = await createOrg(h.call, alice, "org-a");
  orgB = await createOrg(h.call, bob, "org-b");
});
after(() => h?.close());

const sps = (org: string) => `/v1/orgs/${org}/service-principals`;
type Created = { service_principal: Record<string, unknown>; client_id: string; client_secret?: string };

async function createSp(name: string, scopes: string[], auth = alice, org = () => orgA): Promise<Created> {
  const r = await h.call("POST", sps(org()), { auth, body: { name, scopes } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body as unknown as Created;
}
const token = (body: Record<string, unknown>) => h.call("POST", "/v1/auth/token", { body });
async function clientToken(sp: Created, secret = sp.client_secret, scopes?: string[]): Promise<string> {
  const r = await token({
    grant_type: "client_credentials",
    client_id: sp.client_id,
    client_secret: secret,
    ...(scopes ? { scopes } : {}),
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return String(r.body.access_token);
}

describe("client credentials", () => {
  test("client credentials: a token that acts only in the principal's org, with requested ∩ granted scopes", async () => {
    const sp = await createSp("reader", ["orgs:read", "apps:read"]);
    const t = await clientToken(sp);
    assert.match(t, /^plfm_at_/);
    const me = await h.call("GET", "/v1/auth/whoami", { auth: bearer(t) });
    assert.equal(me.body.subject_type, "service_principal");
    assert.equal(me.body.subject_id, sp.client_id);
    assert.deepEqual(me.body.org_memberships, [{ org_id: orgA, role: "service_principal" }]);
    assert.equal((await h.call("GET", `/v1/orgs/${orgA}`, { auth: bearer(t) })).status, 200);
    assertProblem(await h.call("GET", `/v1/orgs/${orgB}`, { auth: bearer(t) }), 403, "org_access_denied");
    assertProblem(await h.call("GET", sps(orgA), { auth: bearer(t) }), 403, "insufficient_scope");
    // Requested ∩ granted: orgs:admin is dropped, and without orgs:read the org is out of reach.
    const narrow = await token({
      grant_type: "client_credentials",
      client_id: sp.client_id,
      client_secret: sp.client_secret,
      scopes: ["apps:read", "orgs:admin"],
    });
    assert.equal(narrow.status, 200, JSON.stringify(narrow.body));
    assert.deepEqual(narrow.body.scopes, ["apps:read"]);
    assert.equal(narrow.body.expires_in_seconds, 900);
    const nt = bearer(narrow.body.access_token);
    assertProblem(await h.call("GET", `/v1/orgs/${orgA}`, { auth: nt }), 403, "insufficient_scope");
    assertProblem(
      await token({
        grant_type: "client_credentials",
        client_id: sp.client_id,
        client_secret: sp.client_secret,
        scopes: ["orgs:admin"],
      }),
      403,
      "insufficient_scope",
    );
    // A service principal cannot create orgs or approve devices.
    assertProblem(
      await h.call("POST", "/v1/orgs", { auth: bearer(t), body: { name: "sp-org" } }),
      403,
      "forbidden",
    );
    assertProblem(
      await h.call("POST", "/v1/auth/device/approve", {
        auth: bearer(t),
        body: { user_code: "ABCD-2345", decision: "approve" },
      }),
      403,
      "forbidden",
    );
  });

  test("the token endpoint: wrong secrets and unknown clients are 401; other grants 400 unsupported_grant_type", async () => {
    const sp = await createSp("strict", ["orgs:read"]);
    const bad = await token({
      grant_type: "client_credentials",
      client_id: sp.client_id,
      client_secret: "nope",
    });
    assertProblem(bad, 401, "unauthorized");
    const unknown = await token({
      grant_type: "client_credentials",
      client_id: newId("sp"),
      client_secret: "x",
    });
    assertProblem(unknown, 401, "unauthorized");
    assertProblem(
      await token({ grant_type: "password", client_id: sp.client_id }),
      400,
      "unsupported_grant_type",
      "grant_type",
    );
    assertProblem(
      await token({ grant_type: "client_credentials", client_id: sp.client_id }),
      400,
      "invalid_argument",
      "client_secret",
    );
    assertProblem(
      await token({
        grant_type: "client_credentials",
        client_id: sp.client_id,
        client_secret: "x",
        scopes: ["bogus"],
      }),
      400,
      "invalid_argument",
      "scopes.0",
    );
  });

  test("the token endpoint allows 60 requests a minute per client_id, then 429 with Retry-After", async () => {
    const clientId = newId("sp");
    const attempt = () =>
      token({ grant_type: "client_credentials", client_id: clientId, client_secret: "x" });
    for (let i = 0; i < 60; i++) assertProblem(await attempt(), 401, "unauthorized");
    const limited = await attempt();
    assertProblem(limited, 429, "rate_limited");
    assert.ok(Number(limited.headers.get("retry-after")) >= 1);
    // Other clients are counted apart.
    assertProblem(
      await token({ grant_type: "client_credentials", client_id: newId("sp"), client_secret: "x" }),
      401,
      "unauthorized",
    );
  });

  test("rotate-secret: the new secret works, the old one and its tokens stop at once", async () => {
    const sp = await createSp("rotator", ["orgs:read"]);
    const oldToken = await clientToken(sp);
    const r = await h.call("POST", `${sps(orgA)}/${sp.client_id}/rotate-secret`, { auth: alice });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const rotated = r.body as unknown as Created;
    assert.notEqual(rotated.client_secret, sp.client_secret);
    assert.equal(rotated.service_principal.resource_version, 2);
    assert.equal(typeof rotated.service_principal.secret_rotated_at, "string");
    assertProblem(
      await token({
        grant_type: "client_credentials",
        client_id: sp.client_id,
        client_secret: sp.client_secret,
      }),
      401,
      "unauthorized",
    );
    assertProblem(await h.call("GET", `/v1/orgs/${orgA}`, { auth: bearer(oldToken) }), 401, "token_revoked");
    const fresh = await clientToken(sp, rotated.client_secret);
    assert.equal((await h.call("GET", `/v1/orgs/${orgA}`, { auth: bearer(fresh) })).status, 200);
    const ev = await h.db.pool.query(
      "SELECT payload FROM events WHERE aggregate_id = $1 AND event_type = 'service_principal.secret_rotated'",
      [sp.client_id],
    );
    assert.equal(ev.rows[0].payload.rotation_id, 1);
    const audit = await h.db.pool.query(
      "SELECT action FROM audit_log WHERE target_id = $1 ORDER BY audit_id",
      [sp.client_id],
    );
    assert.deepEqual(
      audit.rows.map((r) => r.action),
      ["service_principal.created", "service_principal.secret_rotated"],
    );
    assert.ok(!JSON.stringify(ev.rows[0].payload).includes(String(rotated.client_secret)));
  });

  test("PATCH scopes with expected_version; narrowing revokes live tokens that carry a dropped scope", async () => {
    const sp = await createSp("narrowed", ["orgs:read", "apps:read"]);
    const wide = await clientToken(sp);
    const slim = await clientToken(sp, sp.client_secret, ["orgs:read"]);
    const url = `${sps(orgA)}/${sp.client_id}`;
    assertProblem(
      await h.call("PATCH", url, { auth: alice, body: { scopes: ["orgs:read"], expected_version: 7 } }),
      409,
      "version_conflict",
    );
    const r = await h.call("PATCH", url, {
      auth: alice,
      body: { scopes: ["orgs:read"], expected_version: 1 },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.scopes, ["orgs:read"]);
    assert.equal(r.body.resource_version, 2);
    assertProblem(await h.call("GET", `/v1/orgs/${orgA}`, { auth: bearer(wide) }), 401, "token_revoked");
    assert.equal((await h.call("GET", `/v1/orgs/${orgA}`, { auth: bearer(slim) })).status, 200);
    // Granted scopes follow the change at once.
    const t = await token({
      grant_type: "client_credentials",
      client_id: sp.client_id,
      client_secret: sp.client_secret,
    });
    assert.deepEqual(t.body.scopes, ["orgs:read"]);
    assertProblem(
      await h.call("PATCH", url, { auth: alice, body: { scopes: [], expected_version: 2 } }),
      400,
      "invalid_argument",
      "scopes",
    );
  });

  test("DELETE: 204, then 404; its secret and tokens stop working; the name is free again", async () => {
    const sp = await createSp("doomed", ["orgs:read"]);
    const t = await clientToken(sp);
    const url = `${sps(orgA)}/${sp.client_id}`;
    const del = await h.call("DELETE", url, { auth: alice });
    assert.equal(del.status, 204);
    assertProblem(await h.call("GET", url, { auth: alice }), 404, "not_found");
    assertProblem(await h.call("DELETE", url, { auth: alice }), 404, "not_found");
    assertProblem(await h.call("POST", `${url}/rotate-secret`, { auth: alice }), 404, "not_found");
    assertProblem(await h.call("GET", `/v1/orgs/${orgA}`, { auth: bearer(t) }), 401, "token_revoked");
    assertProblem(
      await token({
        grant_type: "client_credentials",
        client_id: sp.client_id,
        client_secret: sp.client_secret,
      }),
      401,
      "unauthorized",
    );
    await createSp("doomed", ["orgs:read"]);
  });

  test("dev mode: `Bearer sp:<id>` acts as the principal", async () => {
    const sp = await createSp("dev-sp", ["orgs:read"]);
    assert.equal(
      (await h.call("GET", `/v1/orgs/${orgA}`, { auth: `Bearer sp:${sp.client_id}` })).status,
      200,
    );
    assertProblem(
      await h.call("GET", `/v1/orgs/${orgB}`, { auth: `Bearer sp:${sp.client_id}` }),
      403,
      "org_access_denied",
    );
    assertProblem(
      await h.call("GET", "/v1/auth/whoami", { auth: `Bearer sp:${newId("sp")}` }),
      401,
      "invalid_token",
    );
  });
});
