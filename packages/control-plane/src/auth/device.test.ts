// The device-authorization flow end to end over HTTP (spec §4.4, §4.5; compliance item 25).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Script } from "node:vm";
import { assertProblem, bearer, dev, type Harness, signIn, startHarness } from "./test-kit.ts";
import { userIdFor } from "./tokens.ts";

let h: Harness;
before(async () => {
  h = await startHarness({ publicUrl: "https://plfm.example.com" });
});
after(() => h?.close());

const alice = dev("alice@example.com");
const bob = dev("bob@example.com");

async function start(body: Record<string, unknown> = { client_name: "plfm cli on laptop" }) {
  const r = await h.call("POST", "/v1/auth/device/start", { body });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body as { device_code: string; user_code: string; [k: string]: unknown };
}
const poll = (deviceCode: string) =>
  h.call("POST", "/v1/auth/device/token", { body: { device_code: deviceCode } });
const decide = (auth: string, userCode: string, decision: string) =>
  h.call("POST", "/v1/auth/device/approve", { auth, body: { user_code: userCode, decision } });

describe("device flow", () => {
  test("start: a plfm_dc_ code, a user code of the spec's shape, the page at PLFM_PUBLIC_URL", async () => {
    const s = await start();
    assert.match(s.device_code, /^plfm_dc_[A-Za-z0-9_-]{43}$/);
    assert.match(s.user_code, /^[A-HJKMNP-Z]{4}-[2-9]{4}$/);
    assert.equal(s.verification_uri, "https://plfm.example.com/device");
    assert.equal(s.verification_uri_complete, `https://plfm.example.com/device?user_code=${s.user_code}`);
    assert.equal(s.expires_in_seconds, 600);
    assert.equal(s.poll_interval_seconds, 5);
    const { rows } = await h.db.pool.query(
      "SELECT device_code_hash, status FROM device_codes WHERE user_code = $1",
      [s.user_code],
    );
    assert.equal(rows[0].status, "pending");
    assert.notEqual(rows[0].device_code_hash, s.device_code);
  });

  test("compliance 25: before approval authorization_pending; polling within 5 s slow_down (+5 s)", async () => {
    const s = await start();
    const first = await poll(s.device_code);
    assertProblem(first, 400, "authorization_pending");
    const fast = await poll(s.device_code);
    assertProblem(fast, 400, "slow_down");
    assert.equal(fast.body.poll_interval_seconds, 10);
    // Polling politely (here: the last poll moved 11 s into the past) is pending again.
    await h.db.pool.query(
      "UPDATE device_codes SET last_polled_at = last_polled_at - interval '11 seconds' WHERE user_code = $1",
      [s.user_code],
    );
    assertProblem(await poll(s.device_code), 400, "authorization_pending");
  });

  test("approve: the device gets a pair for the approving user, once; a retry of the approval answers the same", async () => {
    const s = await start({ client_name: "ci runner", scopes: ["apps:read", "orgs:read"] });
    assertProblem(await poll(s.device_code), 400, "authorization_pending");
    const ok = await decide(alice, s.user_code.toLowerCase().replace("-", ""), "approve");
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body, { user_code: s.user_code, status: "approved", client_name: "ci runner" });
    // Approved: the next poll gets the tokens even though it comes within the interval.
    const pair = await poll(s.device_code);
    assert.equal(pair.status, 200, JSON.stringify(pair.body));
    assert.match(String(pair.body.access_token), /^plfm_at_/);
    assert.match(String(pair.body.refresh_token), /^plfm_rt_/);
    assert.equal(pair.body.expires_in_seconds, 900);
    assert.equal(pair.headers.get("cache-control"), "no-store");
    const me = await h.call("GET", "/v1/auth/whoami", { auth: bearer(pair.body.access_token) });
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.equal(me.body.subject_id, userIdFor("alice@example.com"));
    assert.equal(me.body.email, "alice@example.com");
    assert.deepEqual(me.body.scopes, ["apps:read", "orgs:read"]);
    // The code is spent.
    assertProblem(await poll(s.device_code), 401, "invalid_token");
    assert.equal((await decide(alice, s.user_code, "approve")).status, 200);
    assertProblem(await decide(bob, s.user_code, "approve"), 409, "conflict");
    assertProblem(await decide(alice, s.user_code, "deny"), 409, "conflict");
  });

  test("approving never widens: the device gets the requested scopes the approver's token holds", async () => {
    const narrow = await signIn(h.call, alice, ["apps:read"]);
    const s = await start({ client_name: "wants more", scopes: ["apps:read", "apps:write"] });
    assert.equal((await decide(bearer(narrow.access_token), s.user_code, "approve")).status, 200);
    const pair = await poll(s.device_code);
    const me = await h.call("GET", "/v1/auth/whoami", { auth: bearer(pair.body.access_token) });
    assert.deepEqual(me.body.scopes, ["apps:read"]);
  });

  test("deny: the device is told access_denied, every time", async () => {
    const s = await start();
    const denied = await decide(bob, s.user_code, "deny");
    assert.equal(denied.status, 200);
    assert.equal(denied.body.status, "denied");
    assertProblem(await poll(s.device_code), 400, "access_denied");
    assertProblem(await poll(s.device_code), 400, "access_denied");
    assertProblem(await decide(bob, s.user_code, "approve"), 409, "conflict");
  });

  test("expiry: an expired code answers expired_token to the device and to the approver", async () => {
    const s = await start();
    await h.db.pool.query(
      "UPDATE device_codes SET expires_at = now() - interval '1 second' WHERE user_code = $1",
      [s.user_code],
    );
    assertProblem(await decide(alice, s.user_code, "approve"), 400, "expired_token");
    assertProblem(await poll(s.device_code), 400, "expired_token");
    const { rows } = await h.db.pool.query("SELECT status FROM device_codes WHERE user_code = $1", [
      s.user_code,
    ]);
    assert.equal(rows[0].status, "expired");
    // An approved code collected after its expiry is dead too.
    const late = await start();
    assert.equal((await decide(alice, late.user_code, "approve")).status, 200);
    await h.db.pool.query(
      "UPDATE device_codes SET expires_at = now() - interval '1 second' WHERE user_code = $1",
      [late.user_code],
    );
    assertProblem(await poll(late.device_code), 400, "expired_token");
  });

  test("approve needs a user token; unknown codes are 404; bad bodies name the field", async () => {
    const s = await start();
    assertProblem(
      await h.call("POST", "/v1/auth/device/approve", {
        body: { user_code: s.user_code, decision: "approve" },
      }),
      401,
      "unauthorized",
    );
    assertProblem(await decide(alice, "WXYZ-2345", "approve"), 404, "not_found");
    assertProblem(await decide(alice, "ABCI-2345", "approve"), 404, "not_found");
    assertProblem(await decide(alice, s.user_code, "maybe"), 400, "invalid_argument", "decision");
    assertProblem(await decide(alice, "nonsense", "approve"), 400, "invalid_argument", "user_code");
    // The request is still pending after all that.
    assertProblem(await poll(s.device_code), 400, "authorization_pending");
  });

  test("start and poll validate their bodies; an unknown device code is invalid_token", async () => {
    const long = await h.call("POST", "/v1/auth/device/start", { body: { client_name: "x".repeat(129) } });
    assertProblem(long, 400, "invalid_argument", "client_name");
    const admin = await h.call("POST", "/v1/auth/device/start", {
      body: { client_name: "x", scopes: ["nodes:admin"] },
    });
    assertProblem(admin, 400, "invalid_argument", "scopes.0");
    const extra = await h.call("POST", "/v1/auth/device/start", {
      body: { client_name: "x", colour: "red" },
    });
    assertProblem(extra, 400, "invalid_argument", "colour");
    assertProblem(
      await poll("plfm_rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
      400,
      "invalid_argument",
      "device_code",
    );
    assertProblem(await poll(`plfm_dc_${"A".repeat(43)}`), 401, "invalid_token");
  });

  test("GET /device: the approval page, unauthenticated, locked down", async () => {
    const page = await h.call("GET", "/device?user_code=WDJB-4725");
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(page.text, /<form id="f">/);
    assert.match(page.text, /\/v1\/auth\/device\/approve/);
    // The query is never echoed into the HTML (the script reads it).
    assert.ok(!page.text.includes("WDJB-4725"));
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(csp, /script-src 'sha256-[A-Za-z0-9+/]+=*'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /form-action 'none'/);
    // The inline script is the one the CSP hash allows, and it parses.
    const script = /<script>([\s\S]*)<\/script>/.exec(page.text)?.[1] ?? "";
    const hash = createHash("sha256").update(script).digest("base64");
    assert.ok(csp.includes(`'sha256-${hash}'`), csp);
    assert.doesNotThrow(() => new Script(script));
  });

  test("the OpenAPI document marks the token endpoints as public and approve as bearer", async () => {
    const doc = (await h.call("GET", "/v1/openapi.json")).body as {
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    assert.deepEqual(doc.paths["/v1/auth/device/start"]?.post?.security, []);
    assert.deepEqual(doc.paths["/v1/auth/device/token"]?.post?.security, []);
    assert.deepEqual(doc.paths["/v1/auth/device/approve"]?.post?.security, [{ bearer: [] }]);
    assert.equal(doc.paths["/device"], undefined);
  });
});
