// Without a master key the API still serves; only secret writes answer 503.
// Production mode (no dev tokens): the caller signs in with a real access token.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ALL_SCOPES } from "../auth/scopes.ts";
import { issueUserTokens } from "../auth/token-store.ts";
import { userIdFor } from "../auth/tokens.ts";
import { assertProblem, createEnv, type SecretsTestServer, startSecretsServer, user } from "./test-kit.ts";

describe("secrets without a master key", () => {
  let t: SecretsTestServer;
  let auth: string;
  before(async () => {
    t = await startSecretsServer({ keyring: null, dev: false });
    const email = "ops@example.com";
    const tokens = await issueUserTokens(
      t.db.pool,
      { type: "user", id: userIdFor(email), email, orgId: null, scopes: ALL_SCOPES },
      new Date(),
    );
    auth = `Bearer ${tokens.access_token}`;
  });
  after(async () => {
    await t?.close();
  });

  test("writes are 503 unavailable saying what to set; reads and the rest of the API work", async () => {
    const e = await createEnv(t, auth, "nokey");
    const put = await t.call("PUT", e.secrets, { auth, body: { values: { A: "1" } } });
    assertProblem(put, 503, "unavailable");
    assert.match(String(put.body.detail), /PLFM_SECRETS_MASTER_KEY/);
    assert.equal(put.body.retryable, false);
    assert.equal(put.headers.get("retry-after"), null);
    assertProblem(await t.call("PATCH", e.secrets, { auth, body: { unset: ["A"] } }), 503, "unavailable");
    assertProblem(await t.call("GET", e.secrets, { auth }), 404, "not_found");
    assert.equal((await t.call("GET", `/v1/orgs/${e.orgId}`, { auth })).status, 200);
    const n = await t.db.pool.query(
      "SELECT count(*)::int AS n FROM events WHERE aggregate_type = 'secret_bundle'",
    );
    assert.equal(n.rows[0].n, 0);
  });
});

describe("secrets in dev mode without a master key", () => {
  let t: SecretsTestServer;
  before(async () => {
    t = await startSecretsServer({ keyring: null, dev: true });
  });
  after(async () => {
    await t?.close();
  });

  test("an ephemeral key is generated with a warning, and writes work", async () => {
    const warning = t
      .logText()
      .split("\n")
      .find((l) => l.includes("EPHEMERAL"));
    assert.ok(warning, "the server warned about the ephemeral key");
    assert.equal(JSON.parse(warning).level, 40);
    const alice = user("alice@example.com");
    const e = await createEnv(t, alice, "devkey");
    const put = await t.call("PUT", e.secrets, { auth: alice, body: { values: { A: "1" } } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
  });
});
