import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { hashToken, newToken, userIdFor } from "../auth/tokens.ts";
import {
  assertProblem,
  type CallOptions,
  type HttpTestServer,
  startHttpTestServer,
} from "../http/test-server.ts";

let t: HttpTestServer;
before(async () => {
  t = await startHttpTestServer();
});
after(() => t?.close());

const alice = "Bearer user:alice@example.com";
const bob = "Bearer user:bob@example.com";
const call = (method: string, path: string, options?: CallOptions) => t.call(method, path, options);
const eventCount = () => t.eventCount();

describe("orgs", () => {
  test("no token is 401, a bad token is 401 invalid_token", async () => {
    assertProblem(await call("GET", "/v1/orgs"), 401, "unauthorized");
    assertProblem(await call("POST", "/v1/orgs", { body: { name: "x" } }), 401, "unauthorized");
    assertProblem(await call("GET", "/v1/orgs", { auth: "Bearer plfm_at_nope" }), 401, "invalid_token");
    assertProblem(await call("GET", "/v1/orgs", { auth: "Basic abc" }), 401, "invalid_authorization");
  });

  test("create answers the new org, and an immediate read shows it (read-your-writes)", async () => {
    const created = await call("POST", "/v1/orgs", { auth: alice, body: { name: "acme" } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(String(created.body.org_id), /^org_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(created.body.resource_version, 1);
    const read = await call("GET", `/v1/orgs/${created.body.org_id}`, { auth: alice });
    assert.equal(read.status, 200);
    assert.deepEqual(read.body, created.body);
    const me = await call("GET", "/v1/auth/whoami", { auth: alice });
    assert.deepEqual(me.body.org_memberships, [{ org_id: created.body.org_id, role: "owner" }]);
    assert.equal(me.body.subject_id, userIdFor("alice@example.com"));
  });

  test("an Idempotency-Key replays the response and appends nothing; another body is refused", async () => {
    const key = "create-globex-0001";
    const first = await call("POST", "/v1/orgs", { auth: alice, body: { name: "globex" }, key });
    const before = await eventCount();
    const again = await call("POST", "/v1/orgs", { auth: alice, body: { name: "globex" }, key });
    assert.equal(again.status, 201);
    assert.equal(again.headers.get("idempotency-replayed"), "true");
    assert.deepEqual(again.body, first.body);
    assert.equal(await eventCount(), before);
    assertProblem(
      await call("POST", "/v1/orgs", { auth: alice, body: { name: "globex-2" }, key }),
      409,
      "idempotency_key_reuse",
    );
    assertProblem(
      await call("POST", "/v1/orgs", { auth: alice, body: { name: "k7" }, key: "1234567" }),
      400,
      "invalid_argument",
    );
    assertProblem(
      await call("POST", "/v1/orgs", { auth: alice, body: { name: "k129" }, key: "k".repeat(129) }),
      400,
      "invalid_argument",
    );
    assert.equal(await eventCount(), before);
  });

  test("bad bodies are 400 with the field, and write nothing", async () => {
    const before = await eventCount();
    const unknown = await call("POST", "/v1/orgs", { auth: alice, body: { name: "ok-name", colour: "red" } });
    assertProblem(unknown, 400, "invalid_argument");
    assert.ok(JSON.stringify(unknown.body.details).includes("colour"), JSON.stringify(unknown.body));
    const badName = await call("POST", "/v1/orgs", { auth: alice, body: { name: "Not_Valid" } });
    assertProblem(badName, 400, "invalid_argument");
    assert.ok(JSON.stringify(badName.body.details).includes("name"));
    assertProblem(
      await call("POST", "/v1/orgs", { auth: alice, body: { name: 42 } }),
      400,
      "invalid_argument",
    );
    assert.equal(await eventCount(), before);
  });

  test("org names are unique", async () => {
    assert.equal((await call("POST", "/v1/orgs", { auth: alice, body: { name: "unique-co" } })).status, 201);
    assertProblem(
      await call("POST", "/v1/orgs", { auth: bob, body: { name: "unique-co" } }),
      409,
      "conflict",
    );
  });

  test("another user's org is 403 org_access_denied, and lists show only your own", async () => {
    const mine = await call("POST", "/v1/orgs", { auth: bob, body: { name: "bobs-shop" } });
    const alices = (await call("GET", "/v1/orgs", { auth: alice })).body.items as { org_id: string }[];
    assertProblem(
      await call("GET", `/v1/orgs/${alices[0]?.org_id}`, { auth: bob }),
      403,
      "org_access_denied",
    );
    assertProblem(
      await call("PATCH", `/v1/orgs/${alices[0]?.org_id}`, {
        auth: bob,
        body: { name: "stolen", expected_version: 1 },
      }),
      403,
      "org_access_denied",
    );
    const bobs = (await call("GET", "/v1/orgs", { auth: bob })).body.items as { org_id: string }[];
    assert.deepEqual(
      bobs.map((o) => o.org_id),
      [mine.body.org_id],
    );
    assert.ok(!alices.some((o) => o.org_id === mine.body.org_id));
  });

  test("PATCH needs the current expected_version; a rename frees the old name", async () => {
    const org = await call("POST", "/v1/orgs", { auth: alice, body: { name: "old-name" } });
    const path = `/v1/orgs/${org.body.org_id}`;
    assertProblem(
      await call("PATCH", path, { auth: alice, body: { name: "new-name", expected_version: 7 } }),
      409,
      "version_conflict",
    );
    assertProblem(
      await call("PATCH", path, { auth: alice, body: { name: "new-name" } }),
      400,
      "invalid_expected_version",
    );
    const renamed = await call("PATCH", path, {
      auth: alice,
      body: { name: "new-name", expected_version: 1 },
    });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.equal(renamed.body.name, "new-name");
    assert.equal(renamed.body.resource_version, 2);
    assert.deepEqual((await call("GET", path, { auth: alice })).body, renamed.body);
    assert.equal((await call("POST", "/v1/orgs", { auth: bob, body: { name: "old-name" } })).status, 201);
    assertProblem(await call("POST", "/v1/orgs", { auth: bob, body: { name: "new-name" } }), 409, "conflict");
  });

  test("lists page by cursor; a tampered cursor is 400 invalid_cursor", async () => {
    const all = (await call("GET", "/v1/orgs?limit=200", { auth: alice })).body;
    assert.equal(all.next_cursor, null);
    const items = all.items as { org_id: string }[];
    assert.ok(items.length >= 3);
    const first = await call("GET", "/v1/orgs?limit=1", { auth: alice });
    assert.equal((first.body.items as unknown[]).length, 1);
    const second = await call("GET", `/v1/orgs?limit=1&cursor=${first.body.next_cursor}`, { auth: alice });
    assert.equal((second.body.items as { org_id: string }[])[0]?.org_id, items[1]?.org_id);
    assertProblem(await call("GET", "/v1/orgs?cursor=p1.bm9wZQ", { auth: alice }), 400, "invalid_cursor");
    assertProblem(await call("GET", "/v1/orgs?limit=201", { auth: alice }), 400, "invalid_argument");
  });

  test("stored access tokens: only the hash is kept; expired and revoked tokens are refused", async () => {
    const token = newToken("access");
    assert.match(token, /^plfm_at_[A-Za-z0-9_-]{43}$/);
    const insert = (tok: string, expiresIn: number, revoked: boolean) =>
      t.db.pool.query(
        `INSERT INTO access_tokens (token_hash, subject_type, subject_id, email, scopes, expires_at, revoked_at)
         VALUES ($1, 'user', $2, 'carol@example.com', $3, now() + make_interval(secs => $4), $5)`,
        [
          hashToken(tok),
          userIdFor("carol@example.com"),
          ["orgs:read", "orgs:admin"],
          expiresIn,
          revoked ? new Date() : null,
        ],
      );
    await insert(token, 900, false);
    const me = await call("GET", "/v1/auth/whoami", { auth: `Bearer ${token}` });
    assert.equal(me.status, 200);
    assert.equal(me.body.email, "carol@example.com");
    const { rows } = await t.db.pool.query(
      "SELECT count(*)::int AS n FROM access_tokens WHERE token_hash = $1",
      [token],
    );
    assert.equal(rows[0].n, 0, "the token itself is not stored");
    const expired = newToken("access");
    await insert(expired, -1, false);
    assertProblem(await call("GET", "/v1/auth/whoami", { auth: `Bearer ${expired}` }), 401, "token_expired");
    const revoked = newToken("access");
    await insert(revoked, 900, true);
    assertProblem(await call("GET", "/v1/auth/whoami", { auth: `Bearer ${revoked}` }), 401, "token_revoked");
    // A token without apps/orgs scopes beyond its grant: carol may create, but reading needs membership.
    const created = await call("POST", "/v1/orgs", { auth: `Bearer ${token}`, body: { name: "carols" } });
    assert.equal(created.status, 201);
    assert.equal(
      (await call("GET", `/v1/orgs/${created.body.org_id}`, { auth: `Bearer ${token}` })).status,
      200,
    );
  });

  test("a token missing the scope gets 403 insufficient_scope", async () => {
    const token = newToken("access");
    await t.db.pool.query(
      `INSERT INTO access_tokens (token_hash, subject_type, subject_id, email, scopes, expires_at)
       VALUES ($1, 'user', $2, 'alice@example.com', $3, now() + interval '15 minutes')`,
      [hashToken(token), userIdFor("alice@example.com"), ["orgs:read"]],
    );
    const org = (
      (await call("GET", "/v1/orgs", { auth: alice })).body.items as {
        org_id: string;
        resource_version: number;
      }[]
    )[0];
    assert.equal((await call("GET", `/v1/orgs/${org?.org_id}`, { auth: `Bearer ${token}` })).status, 200);
    const patch = await call("PATCH", `/v1/orgs/${org?.org_id}`, {
      auth: `Bearer ${token}`,
      body: { name: "nope", expected_version: org?.resource_version },
    });
    assertProblem(patch, 403, "insufficient_scope");
  });

  test("the OpenAPI 3.1 document lists the routes, generated from their schemas", async () => {
    const doc = await call("GET", "/v1/openapi.json");
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, "3.1.0");
    const paths = doc.body.paths as Record<
      string,
      Record<string, { operationId?: string; requestBody?: unknown }>
    >;
    assert.equal(paths["/v1/orgs"]?.post?.operationId, "orgs.create");
    assert.ok(paths["/v1/orgs"]?.post?.requestBody, "the create body schema is documented");
    assert.equal(paths["/v1/orgs/{org}"]?.patch?.operationId, "orgs.update");
    assert.equal(paths["/v1/auth/whoami"]?.get?.operationId, "auth.whoami");
  });
});
