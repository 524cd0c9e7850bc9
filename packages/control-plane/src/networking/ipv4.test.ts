// End-to-end over HTTP: the IPv4 add-on (spec platform.md §8.6; compliance 59).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  addMember,
  assertProblem,
  createEnv,
  createOrg,
  dev,
  type NetServer,
  startNetServer,
} from "./test-kit.ts";

const alice = dev("alice@example.com");
const bob = dev("bob@example.com");
const rita = dev("rita@example.com"); // readonly member of alice's org
const olga = dev("olga@example.com"); // operator (PLFM_OPERATOR_EMAILS), member of alice's org

const route = (hostname: string, extra: Record<string, unknown> = {}) => ({
  hostname,
  listen_port: 443,
  protocol_hint: "tls_passthrough",
  backend_process_type: "web",
  backend_port: 8080,
  ...extra,
});

describe("IPv4 add-on with a pool of one address", () => {
  let s: NetServer;
  let A: Awaited<ReturnType<typeof createEnv>>;
  let A2: Awaited<ReturnType<typeof createEnv>>;
  let B: Awaited<ReturnType<typeof createEnv>>;

  before(async () => {
    s = await startNetServer("203.0.113.7", ["olga@example.com"]);
    const orgA = await createOrg(s, alice, "v4-alice");
    const orgB = await createOrg(s, bob, "v4-bob");
    A = await createEnv(s, alice, orgA, "shop");
    A2 = await createEnv(s, alice, orgA, "blog");
    B = await createEnv(s, bob, orgB, "shop");
    await addMember(s, alice, orgA, "rita@example.com", "readonly");
    await addMember(s, alice, orgA, "olga@example.com", "admin");
  });
  after(async () => {
    await s?.close();
  });

  test("off by default; enable allocates the pool's address and an immediate read shows it", async () => {
    const off = await s.call("GET", `${A.base}/networking`, { auth: alice });
    assert.equal(off.status, 200);
    assert.deepEqual(off.body, {
      env_id: A.envId,
      ipv4_enabled: false,
      ipv4_address: null,
      ipv4_allocation_id: null,
    });
    const on = await s.call("POST", `${A.base}/networking/ipv4`, { auth: alice, key: "v4-enable-0001" });
    assert.equal(on.status, 200, JSON.stringify(on.body));
    assert.equal(on.body.ipv4_enabled, true);
    assert.equal(on.body.ipv4_address, "203.0.113.7");
    assert.match(String(on.body.ipv4_allocation_id), /^ip4_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.deepEqual((await s.call("GET", `${A.base}/networking`, { auth: alice })).body, on.body);
    const { rows } = await s.db.pool.query(
      `SELECT event_type, aggregate_type, org_id, app_id, env_id, payload FROM events
        WHERE aggregate_id = $1 AND event_type LIKE 'env.ipv4%'`,
      [A.envId],
    );
    assert.equal(rows.length, 1);
    const enabledAt = rows[0].payload.enabled_at;
    assert.ok(!Number.isNaN(Date.parse(enabledAt)), `enabled_at ${enabledAt}`);
    assert.deepEqual(rows[0], {
      event_type: "env.ipv4_addon_enabled",
      aggregate_type: "env",
      org_id: A.org,
      app_id: A.appId,
      env_id: A.envId,
      payload: {
        env_id: A.envId,
        org_id: A.org,
        allocation_id: on.body.ipv4_allocation_id,
        ipv4_address: "203.0.113.7",
        enabled_at: enabledAt,
      },
    });
    // Replay: the same answer, nothing appended; enabling again without a key changes nothing either.
    const before = await s.eventCount();
    const replay = await s.call("POST", `${A.base}/networking/ipv4`, { auth: alice, key: "v4-enable-0001" });
    assert.equal(replay.headers.get("idempotency-replayed"), "true");
    assert.deepEqual(replay.body, on.body);
    const again = await s.call("POST", `${A.base}/networking/ipv4`, { auth: alice });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, on.body);
    assert.equal(await s.eventCount(), before);
    const audit = await s.db.pool.query("SELECT action FROM audit_log WHERE target_id = $1", [A.envId]);
    assert.deepEqual(audit.rows, [{ action: "env.ipv4_addon_enabled" }]);
  });

  test("enable takes no fields: an empty body is fine, any field is refused", async () => {
    assertProblem(
      await s.call("POST", `${A2.base}/networking/ipv4`, { auth: alice, body: { address: "203.0.113.7" } }),
      400,
      "invalid_argument",
      "address",
    );
    const empty = await s.call("POST", `${A.base}/networking/ipv4`, { auth: alice, body: {} });
    assert.equal(empty.status, 200, JSON.stringify(empty.body));
    assert.equal(empty.body.ipv4_address, "203.0.113.7");
  });

  test("the pool of one is exhausted for every other env, in any org", async () => {
    const before = await s.eventCount();
    assertProblem(
      await s.call("POST", `${A2.base}/networking/ipv4`, { auth: alice }),
      409,
      "ipv4_pool_exhausted",
    );
    assertProblem(
      await s.call("POST", `${B.base}/networking/ipv4`, { auth: bob }),
      409,
      "ipv4_pool_exhausted",
    );
    assert.equal(await s.eventCount(), before);
  });

  test("routes may require IPv4 now; disabling is refused while they do (compliance 59)", async () => {
    const r = await s.call("POST", `${A.base}/routes`, {
      auth: alice,
      body: route("v4.example", { ipv4_required: true }),
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    // A tcp_raw route may own 443 on the env's own IPv4 only.
    const raw = await s.call("POST", `${A.base}/routes`, {
      auth: alice,
      body: route("raw443.example", { protocol_hint: "tcp_raw", ipv4_required: true }),
    });
    assertProblem(raw, 409, "port_in_use", "listen_port"); // v4.example is on 443 of the same env
    const raw2 = await s.call("POST", `${A.base}/routes`, {
      auth: alice,
      body: route("raw8443.example", { protocol_hint: "tcp_raw", ipv4_required: true, listen_port: 8443 }),
    });
    assert.equal(raw2.status, 201, JSON.stringify(raw2.body));
    // Moving it to the shared address conflicts with nothing on 8443, so it is allowed…
    const moved = await s.call("PATCH", `${A.base}/routes/${raw2.body.route_id}`, {
      auth: alice,
      body: { ipv4_required: false, expected_version: 1 },
    });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    // …and then another env's tls route cannot take 8443 on the shared address.
    assertProblem(
      await s.call("POST", `${B.base}/routes`, {
        auth: bob,
        body: route("b8443.example", { listen_port: 8443 }),
      }),
      409,
      "port_in_use",
    );
    assert.equal(
      (await s.call("DELETE", `${A.base}/routes/${raw2.body.route_id}`, { auth: alice })).status,
      204,
    );

    const before = await s.eventCount();
    const refused = await s.call("DELETE", `${A.base}/networking/ipv4`, { auth: alice });
    assertProblem(refused, 409, "ipv4_required_routes");
    assert.deepEqual(refused.body.route_ids, [r.body.route_id]);
    // force is for operators only.
    assertProblem(
      await s.call("DELETE", `${A.base}/networking/ipv4?force=true`, { auth: alice }),
      403,
      "insufficient_scope",
    );
    assert.equal(await s.eventCount(), before);
    assert.equal((await s.call("GET", `${A.base}/networking`, { auth: alice })).body.ipv4_enabled, true);

    // Un-require it, and the add-on can go.
    const patched = await s.call("PATCH", `${A.base}/routes/${r.body.route_id}`, {
      auth: alice,
      body: { ipv4_required: false, expected_version: 1 },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const del = await s.call("DELETE", `${A.base}/networking/ipv4`, { auth: alice, key: "v4-disable-0001" });
    assert.equal(del.status, 204);
    assert.deepEqual((await s.call("GET", `${A.base}/networking`, { auth: alice })).body, {
      env_id: A.envId,
      ipv4_enabled: false,
      ipv4_address: null,
      ipv4_allocation_id: null,
    });
    const count = await s.eventCount();
    const replay = await s.call("DELETE", `${A.base}/networking/ipv4`, {
      auth: alice,
      key: "v4-disable-0001",
    });
    assert.equal(replay.status, 204);
    assert.equal(replay.headers.get("idempotency-replayed"), "true");
    assert.equal(await s.eventCount(), count);
    assertProblem(await s.call("DELETE", `${A.base}/networking/ipv4`, { auth: alice }), 404, "not_found");
    const { rows } = await s.db.pool.query(
      "SELECT payload FROM events WHERE aggregate_id = $1 AND event_type = 'env.ipv4_addon_disabled'",
      [A.envId],
    );
    assert.deepEqual(Object.keys(rows[0].payload).sort(), ["disabled_at", "env_id", "org_id"]);
  });

  test("a released address cools down for 24 h for other envs; its own env may take it back", async () => {
    assertProblem(
      await s.call("POST", `${B.base}/networking/ipv4`, { auth: bob }),
      409,
      "ipv4_pool_exhausted",
    );
    const back = await s.call("POST", `${A.base}/networking/ipv4`, { auth: alice });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal(back.body.ipv4_address, "203.0.113.7");
    assert.equal((await s.call("DELETE", `${A.base}/networking/ipv4`, { auth: alice })).status, 204);
    // A day later the address is free for anyone.
    await s.db.pool.query("UPDATE ipv4_allocations SET released_at = released_at - interval '25 hours'");
    const bobs = await s.call("POST", `${B.base}/networking/ipv4`, { auth: bob });
    assert.equal(bobs.status, 200, JSON.stringify(bobs.body));
    assert.equal(bobs.body.ipv4_address, "203.0.113.7");
  });

  test("an operator may force the add-on off while routes require it", async () => {
    const env = await createEnv(s, alice, A.org, "ops", "prod");
    // Bob gives the only address back; a day later it is free for this env.
    assert.equal((await s.call("DELETE", `${B.base}/networking/ipv4`, { auth: bob })).status, 204);
    await s.db.pool.query("UPDATE ipv4_allocations SET released_at = released_at - interval '25 hours'");
    assert.equal((await s.call("POST", `${env.base}/networking/ipv4`, { auth: alice })).status, 200);
    const r = await s.call("POST", `${env.base}/routes`, {
      auth: alice,
      body: route("forced.example", { ipv4_required: true }),
    });
    assert.equal(r.status, 201);
    assertProblem(
      await s.call("DELETE", `${env.base}/networking/ipv4`, { auth: olga }),
      409,
      "ipv4_required_routes",
    );
    assert.equal(
      (await s.call("DELETE", `${env.base}/networking/ipv4?force=true`, { auth: olga })).status,
      204,
    );
    const audit = await s.db.pool.query(
      "SELECT details FROM audit_log WHERE target_id = $1 AND action = 'env.ipv4_addon_disabled'",
      [env.envId],
    );
    assert.equal(audit.rows[0]?.details.forced, true);
  });

  test("access: another org 403, a mixed path 404, readonly reads but cannot enable", async () => {
    assertProblem(await s.call("GET", `${A.base}/networking`, { auth: bob }), 403, "org_access_denied");
    assertProblem(await s.call("POST", `${A.base}/networking/ipv4`, { auth: bob }), 403, "org_access_denied");
    assertProblem(
      await s.call("DELETE", `${A.base}/networking/ipv4`, { auth: bob }),
      403,
      "org_access_denied",
    );
    const mixed = `/v1/orgs/${B.org}/apps/${A.appId}/envs/${A.envId}`;
    assertProblem(await s.call("GET", `${mixed}/networking`, { auth: bob }), 404, "not_found");
    assertProblem(await s.call("POST", `${mixed}/networking/ipv4`, { auth: bob }), 404, "not_found");
    assertProblem(await s.call("DELETE", `${mixed}/networking/ipv4`, { auth: bob }), 404, "not_found");
    assert.equal((await s.call("GET", `${A.base}/networking`, { auth: rita })).status, 200);
    assertProblem(
      await s.call("POST", `${A.base}/networking/ipv4`, { auth: rita }),
      403,
      "insufficient_scope",
    );
    assertProblem(
      await s.call("DELETE", `${A.base}/networking/ipv4`, { auth: rita }),
      403,
      "insufficient_scope",
    );
    assertProblem(await s.call("GET", `${A.base}/networking`), 401, "unauthorized");
  });
});

describe("IPv4 allocation under concurrency", () => {
  let s: NetServer;
  before(async () => {
    s = await startNetServer("198.51.100.0/30");
  });
  after(async () => {
    await s?.close();
  });

  test("ten envs enabling at once share four addresses: four win, each a different address", async () => {
    const org = await createOrg(s, alice, "v4-race");
    const envs = [];
    for (let i = 0; i < 10; i++) envs.push(await createEnv(s, alice, org, `app-${i}`));
    const results = await Promise.all(
      envs.map((e) => s.call("POST", `${e.base}/networking/ipv4`, { auth: alice })),
    );
    const won = results.filter((r) => r.status === 200);
    const lost = results.filter((r) => r.status !== 200);
    assert.equal(won.length, 4, JSON.stringify(results.map((r) => r.body)));
    for (const r of lost) assertProblem(r, 409, "ipv4_pool_exhausted");
    assert.deepEqual(won.map((r) => r.body.ipv4_address).sort(), [
      "198.51.100.0",
      "198.51.100.1",
      "198.51.100.2",
      "198.51.100.3",
    ]);
    const { rows } = await s.db.pool.query(
      "SELECT count(*)::int AS n, count(DISTINCT address)::int AS d FROM ipv4_allocations WHERE released_at IS NULL",
    );
    assert.deepEqual(rows[0], { n: 4, d: 4 });
  });

  test("the table itself refuses a second live row for an address or an env", async () => {
    const insert = (id: string, address: string, env: string) =>
      s.db.pool.query(
        `INSERT INTO ipv4_allocations (allocation_id, address, org_id, env_id, allocated_at)
         VALUES ($1, $2, 'org_x', $3, now())`,
        [id, address, env],
      );
    await assert.rejects(
      insert("ip4_dup_address", "198.51.100.0", "env_other"),
      /ipv4_allocations_address_key/,
    );
    const { rows } = await s.db.pool.query(
      "SELECT env_id FROM ipv4_allocations WHERE released_at IS NULL LIMIT 1",
    );
    await assert.rejects(insert("ip4_dup_env", "192.0.2.1", rows[0].env_id), /ipv4_allocations_env_key/);
  });
});
