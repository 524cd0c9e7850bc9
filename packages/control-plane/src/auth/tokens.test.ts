// Access and refresh tokens end to end over HTTP: hashing, rotation, chain
// revocation, revoke, expiry (spec §4.5; compliance items 23 and 24).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { assertProblem, bearer, dev, type Harness, signIn, startHarness } from "./test-kit.ts";
import { hashToken } from "./tokens.ts";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h?.close());

const alice = dev("alice@example.com");
const whoami = (token: string) => h.call("GET", "/v1/auth/whoami", { auth: bearer(token) });
const refresh = (token: string) =>
  h.call("POST", "/v1/auth/token/refresh", { body: { refresh_token: token } });
const revoke = (body: Record<string, string>) => h.call("POST", "/v1/auth/token/revoke", { body });

/** Every row of the tables that could hold a token, as text. */
async function storedText(): Promise<string> {
  const tables = ["access_tokens", "refresh_tokens", "device_codes", "events", "idempotency_records"];
  const parts: string[] = [];
  for (const t of tables) {
    const { rows } = await h.db.pool.query(`SELECT row_to_json(x)::text AS j FROM ${t} x`);
    parts.push(...rows.map((r) => r.j as string));
  }
  return parts.join("\n");
}

describe("tokens", () => {
  test("compliance 23: plfm_at_ / plfm_rt_ / plfm_dc_ tokens, and only their sha256 hashes are stored", async () => {
    const start = await h.call("POST", "/v1/auth/device/start", { body: { client_name: "hash check" } });
    const deviceCode = String(start.body.device_code);
    // Without PLFM_PUBLIC_URL the page is where the request came to.
    assert.equal(start.body.verification_uri, `${h.server.url}/device`);
    await h.call("POST", "/v1/auth/device/approve", {
      auth: alice,
      body: { user_code: start.body.user_code, decision: "approve" },
    });
    const pair = await h.call("POST", "/v1/auth/device/token", { body: { device_code: deviceCode } });
    const { access_token, refresh_token } = pair.body as { access_token: string; refresh_token: string };
    const next = (await refresh(refresh_token)).body as { access_token: string; refresh_token: string };
    const tokens = [
      deviceCode,
      access_token,
      refresh_token,
      next.access_token,
      next.refresh_token,
    ] as string[];
    assert.match(deviceCode, /^plfm_dc_[A-Za-z0-9_-]{43}$/);
    for (const t of [access_token, next.access_token])
      assert.match(t as string, /^plfm_at_[A-Za-z0-9_-]{43}$/);
    for (const t of [refresh_token, next.refresh_token])
      assert.match(t as string, /^plfm_rt_[A-Za-z0-9_-]{43}$/);
    const stored = await storedText();
    for (const t of tokens) {
      assert.ok(!stored.includes(t), "a token is stored in plain text");
      assert.ok(!stored.includes(t.slice(8)), "a token's random part is stored in plain text");
    }
    const hashes = [
      ...(await h.db.pool.query("SELECT token_hash AS h FROM access_tokens")).rows,
      ...(await h.db.pool.query("SELECT token_hash AS h FROM refresh_tokens")).rows,
      ...(await h.db.pool.query("SELECT device_code_hash AS h FROM device_codes")).rows,
    ].map((r) => r.h as string);
    for (const t of tokens)
      assert.ok(hashes.includes(hashToken(t)), `no sha256 row for a ${t.slice(0, 8)} token`);
    for (const hash of hashes) assert.match(hash, /^[0-9a-f]{64}$/);
  });

  test("refresh: a new pair each time, and the new refresh token refreshes in turn", async () => {
    const first = await signIn(h.call, alice);
    const r = await refresh(first.refresh_token);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.notEqual(r.body.refresh_token, first.refresh_token);
    assert.notEqual(r.body.access_token, first.access_token);
    assert.equal(r.body.expires_in_seconds, 900);
    assert.equal((await whoami(String(r.body.access_token))).body.email, "alice@example.com");
    const again = await refresh(String(r.body.refresh_token));
    assert.equal(again.status, 200, "the rotated-to token refreshes in turn");
  });

  test("compliance 24: reusing a rotated refresh token fails and revokes its whole chain", async () => {
    const first = await signIn(h.call, alice);
    const second = (await refresh(first.refresh_token)).body as Record<string, string>;
    const third = (await refresh(String(second.refresh_token))).body as Record<string, string>;
    assert.equal((await whoami(String(third.access_token))).status, 200);
    // The first token, already rotated, is presented again: theft is assumed.
    assertProblem(await refresh(first.refresh_token), 401, "token_revoked");
    // Every token of the chain is dead now: the newest refresh token and the access tokens.
    assertProblem(await refresh(String(third.refresh_token)), 401, "token_revoked");
    for (const t of [first.access_token, second.access_token, third.access_token]) {
      assertProblem(await whoami(String(t)), 401, "token_revoked");
    }
    // Another sign-in of the same user is a different chain and unaffected.
    const other = await signIn(h.call, alice);
    assert.equal((await whoami(other.access_token)).status, 200);
    assert.equal((await refresh(other.refresh_token)).status, 200);
  });

  test("revoke a refresh token: it and the access tokens issued with it stop working", async () => {
    const pair = await signIn(h.call, alice);
    const r = await revoke({ refresh_token: pair.refresh_token });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { ok: true });
    assertProblem(await whoami(pair.access_token), 401, "token_revoked");
    assertProblem(await refresh(pair.refresh_token), 401, "token_revoked");
  });

  test("revoke an access token: only that one stops working", async () => {
    const a = await signIn(h.call, alice);
    const b = await signIn(h.call, alice);
    assert.deepEqual((await revoke({ access_token: a.access_token })).body, { ok: true });
    assertProblem(await whoami(a.access_token), 401, "token_revoked");
    assert.equal((await whoami(b.access_token)).status, 200);
    // Its refresh token still gives a new pair.
    assert.equal((await refresh(a.refresh_token)).status, 200);
  });

  test("revoke: unknown tokens are fine, an empty body or a wrong kind of token is 400", async () => {
    assert.deepEqual((await revoke({ access_token: `plfm_at_${"B".repeat(43)}` })).body, { ok: true });
    assertProblem(await revoke({}), 400, "invalid_argument");
    assertProblem(
      await revoke({ refresh_token: `plfm_at_${"B".repeat(43)}` }),
      400,
      "invalid_argument",
      "refresh_token",
    );
    assertProblem(await refresh(`plfm_rt_${"C".repeat(43)}`), 401, "invalid_token");
  });

  test("expired tokens: 401 token_expired for access and refresh tokens", async () => {
    const pair = await signIn(h.call, alice);
    await h.db.pool.query(
      "UPDATE access_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
      [hashToken(pair.access_token)],
    );
    assertProblem(await whoami(pair.access_token), 401, "token_expired");
    await h.db.pool.query(
      "UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
      [hashToken(pair.refresh_token)],
    );
    assertProblem(await refresh(pair.refresh_token), 401, "token_expired");
  });

  test("a refresh token is not an access token", async () => {
    const pair = await signIn(h.call, alice);
    assertProblem(await whoami(pair.refresh_token), 401, "invalid_token");
  });
});
