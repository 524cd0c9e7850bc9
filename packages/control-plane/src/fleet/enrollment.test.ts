// End to end over HTTP: enrollment tokens (operator only) and enrollment
// (compliance 44, 46). Expiry is simulated by moving expires_at in the
// test database: the server's clock is the system clock.
import assert from "node:assert/strict";
import { isIPv6 } from "node:net";
import { after, before, test } from "node:test";
import { assertInvalid, assertProblem, startTestServer, type TestServer } from "../tenancy/http-test-kit.ts";
import {
  bearer,
  enroll,
  enrollBody,
  enrollNode,
  issueToken,
  nodeEventTypes,
  OP,
  OPERATOR_EMAIL,
  USER,
} from "./test-kit.ts";

let t: TestServer;
before(async () => {
  t = await startTestServer([OPERATOR_EMAIL]);
});
after(async () => {
  await t?.close();
});

const tokenRow = async (token: string) => {
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256").update(token).digest("hex");
  const { rows } = await t.db.pool.query("SELECT * FROM enrollment_tokens WHERE token_hash = $1", [hash]);
  return rows[0];
};

test("enrollment tokens: issued once with their secret, listed without it, revocable; operators only", async () => {
  const before = Date.now();
  const r = await t.call("POST", "/v1/nodes/enrollment-tokens", { auth: OP, body: {} });
  assert.equal(r.status, 201);
  assert.match(r.body.token_id as string, /^etok_[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.match(r.body.enrollment_token as string, /^plfm_enroll_[A-Za-z0-9_-]{43}$/);
  const ttl = Date.parse(r.body.expires_at as string) - before;
  assert.ok(ttl > 3590_000 && ttl < 3610_000, `default TTL is 1 h, got ${ttl} ms`);
  const row = await tokenRow(r.body.enrollment_token as string);
  assert.equal(row.token_id, r.body.token_id, "only the sha256 is stored");

  const long = await t.call("POST", "/v1/nodes/enrollment-tokens", {
    auth: OP,
    body: { ttl_seconds: 86400 },
  });
  assert.equal(long.status, 201);
  assertInvalid(
    await t.call("POST", "/v1/nodes/enrollment-tokens", { auth: OP, body: { ttl_seconds: 86401 } }),
    "ttl_seconds",
  );

  const list = await t.call("GET", "/v1/nodes/enrollment-tokens", { auth: OP });
  assert.equal(list.status, 200);
  const items = list.body.items as Record<string, unknown>[];
  const listed = items.find((i) => i.token_id === r.body.token_id);
  assert.ok(listed);
  assert.equal(JSON.stringify(list.body).includes("plfm_enroll_"), false, "no secrets in the list");
  assert.equal(listed.used_at, null);

  const del = await t.call("DELETE", `/v1/nodes/enrollment-tokens/${r.body.token_id}`, { auth: OP });
  assert.equal(del.status, 204);
  assertProblem(
    await t.call("DELETE", `/v1/nodes/enrollment-tokens/${r.body.token_id}`, { auth: OP }),
    404,
    "not_found",
  );
  const revoked = await enroll(t, enrollBody(r.body.enrollment_token as string));
  assertProblem(revoked, 401, "invalid_enrollment_token");

  for (const [method, path] of [
    ["POST", "/v1/nodes/enrollment-tokens"],
    ["GET", "/v1/nodes/enrollment-tokens"],
    ["DELETE", `/v1/nodes/enrollment-tokens/${long.body.token_id}`],
    ["GET", "/v1/nodes"],
  ] as const) {
    const denied = await t.call(method, path, { auth: USER, ...(method === "POST" ? { body: {} } : {}) });
    assertProblem(denied, 403, "insufficient_scope");
  }
  assertProblem(await t.call("GET", "/v1/nodes"), 401, "unauthorized");
});

test("compliance 44: a token works once; an expired one is not consumed; a duplicate WireGuard key is 409", async () => {
  const token = await issueToken(t);
  const body = enrollBody(token);
  const first = await enroll(t, body);
  assert.equal(first.status, 201, JSON.stringify(first.body));
  assert.match(first.body.node_id as string, /^node_[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.match(first.body.node_credential as string, /^plfm_node_[A-Za-z0-9_-]{43}$/);
  assert.equal(first.headers.get("cache-control"), "no-store");
  const overlayConfig = first.body.overlay_config as Record<string, unknown>;
  assert.equal(overlayConfig.node_overlay_ipv6, first.body.overlay_ipv6);
  assert.equal((first.body.cluster_config as Record<string, unknown>).heartbeat_interval_seconds, 10);
  assert.deepEqual(await nodeEventTypes(t, first.body.node_id as string), [
    "node.enrolled",
    "node.capacity_updated",
  ]);
  assert.equal((await tokenRow(token)).used_by_node_id, first.body.node_id);

  // Reuse, with the same body or another key.
  assertProblem(await enroll(t, body), 401, "invalid_enrollment_token");
  assertProblem(await enroll(t, enrollBody(token)), 401, "invalid_enrollment_token");

  // Expired: refused and left unused.
  const expired = await issueToken(t);
  await t.db.pool.query(
    "UPDATE enrollment_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
    [(await tokenRow(expired)).token_hash],
  );
  assertProblem(await enroll(t, enrollBody(expired)), 401, "invalid_enrollment_token");
  assert.equal((await tokenRow(expired)).used_at, null, "an expired token is not consumed");

  // An incompatible agent does not consume the token either.
  const kept = await issueToken(t);
  const old = await enroll(t, enrollBody(kept, { supported_api_versions: ["v0"] }));
  assertProblem(old, 400, "agent_version_unsupported");
  assert.equal((await tokenRow(kept)).used_at, null);

  // A WireGuard key already in use: 409, and that token is spent (§7.1).
  const dup = await enroll(t, enrollBody(kept, { wireguard_public_key: body.wireguard_public_key }));
  assertProblem(dup, 409, "wireguard_key_in_use");
  assert.notEqual((await tokenRow(kept)).used_at, null);
  assertProblem(await enroll(t, enrollBody(kept)), 401, "invalid_enrollment_token");

  // Garbage and missing tokens.
  assertProblem(
    await enroll(t, enrollBody(`plfm_enroll_${"A".repeat(43)}`)),
    401,
    "invalid_enrollment_token",
  );
  const { enrollment_token: _, ...noToken } = enrollBody("x");
  assertProblem(await enroll(t, noToken), 401, "invalid_enrollment_token");
});

test("enroll: the token may come in Authorization; validation names the field", async () => {
  const token = await issueToken(t);
  const { enrollment_token: _, ...body } = enrollBody(token, { labels: undefined, capacity: undefined });
  const noArch = await t.call("POST", "/v1/nodes/enroll", { body: { ...body, labels: {} } });
  assertInvalid(noArch, "labels.arch");
  assertInvalid(await enroll(t, enrollBody(token, { roles: ["database"] })), "roles.0");
  assertInvalid(await enroll(t, enrollBody(token, { wireguard_public_key: "nope" })), "wireguard_public_key");
  assertInvalid(await enroll(t, enrollBody(token, { public_ipv6: "10.0.0.1" })), "public_ipv6");
  assertInvalid(await enroll(t, enrollBody(token, { extra: 1 })), "extra");
  assert.equal((await tokenRow(token)).used_at, null, "invalid requests consume nothing");

  const viaHeader = await t.call("POST", "/v1/nodes/enroll", {
    auth: bearer(token),
    body: {
      ...body,
      roles: ["edge"],
      labels: {},
      hardware_facts: { cpu_cores: 2, memory_bytes: 2 ** 30, disk_bytes: 2 ** 34, arch: "arm64", kvm: false },
    },
  });
  assert.equal(viaHeader.status, 201, JSON.stringify(viaHeader.body));
  const node = await t.call("GET", `/v1/nodes/${viaHeader.body.node_id}`, { auth: OP });
  assert.equal(node.status, 200);
  assert.deepEqual(node.body.roles, ["edge"]);
  assert.equal(node.body.state, "enrolled");
  assert.deepEqual(node.body.labels, { arch: "arm64" });
  assert.deepEqual(node.body.allocatable, { cpu_cores: 2, memory_bytes: 2 ** 30, disk_bytes: 2 ** 34 });
  assert.equal(node.body.last_heartbeat_at, null);
});

test("compliance 46: node addresses lie in fd70:6c66::/64 and are never reused", async () => {
  const seen = new Set<string>();
  const nodes = [];
  for (let i = 0; i < 3; i++) nodes.push(await enrollNode(t, { hostname: `n${i}` }));
  for (const n of nodes) {
    assert.ok(isIPv6(n.overlay), n.overlay);
    assert.match(n.overlay, /^fd70:6c66::[0-9a-f]{1,4}(:[0-9a-f]{1,4}){0,3}$/);
    assert.equal(seen.has(n.overlay), false);
    seen.add(n.overlay);
  }
  const last = nodes[nodes.length - 1];
  assert.ok(last);
  const del = await t.call("DELETE", `/v1/nodes/${last.nodeId}`, { auth: OP });
  assert.equal(del.status, 204);
  const next = await enrollNode(t, { hostname: "after-delete" });
  assert.equal(seen.has(next.overlay), false, `${next.overlay} was handed out before`);
  assert.match(next.overlay, /^fd70:6c66::/);
});
