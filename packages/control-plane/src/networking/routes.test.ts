// End-to-end over HTTP: the routes API (spec platform.md §8.4; compliance 54, 55).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { assertProblem, createEnv, createOrg, dev, type NetServer, startNetServer } from "./test-kit.ts";

let s: NetServer;
const alice = dev("alice@example.com");
const bob = dev("bob@example.com");
let A: Awaited<ReturnType<typeof createEnv>>; // alice's env
let A2: Awaited<ReturnType<typeof createEnv>>; // alice's second env, same app name space
let B: Awaited<ReturnType<typeof createEnv>>; // bob's env, another org

before(async () => {
  s = await startNetServer("203.0.113.7");
  const orgA = await createOrg(s, alice, "net-alice");
  const orgB = await createOrg(s, bob, "net-bob");
  A = await createEnv(s, alice, orgA, "shop");
  A2 = await createEnv(s, alice, orgA, "blog");
  B = await createEnv(s, bob, orgB, "shop");
});
after(async () => {
  await s?.close();
});

const valid = (hostname: string, extra: Record<string, unknown> = {}) => ({
  hostname,
  listen_port: 443,
  protocol_hint: "tls_passthrough",
  backend_process_type: "web",
  backend_port: 8080,
  ...extra,
});
const create = (env: { base: string }, body: unknown, auth = alice, key?: string) =>
  s.call("POST", `${env.base}/routes`, { auth, body, ...(key ? { key } : {}) });

describe("routes", () => {
  test("create answers the route with defaults and the canonical hostname; reads show it at once", async () => {
    const r = await create(A, valid("API.Shop.Example.", { backend_port: 8443 }));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.match(String(r.body.route_id), /^rt_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.deepEqual(
      { ...r.body, route_id: "", created_at: "", updated_at: "" },
      {
        route_id: "",
        org_id: A.org,
        app_id: A.appId,
        env_id: A.envId,
        hostname: "api.shop.example",
        listen_port: 443,
        protocol_hint: "tls_passthrough",
        backend_process_type: "web",
        backend_port: 8443,
        proxy_protocol: "off",
        backend_expects_proxy_protocol: false,
        ipv4_required: false,
        resource_version: 1,
        created_at: "",
        updated_at: "",
      },
    );
    const read = await s.call("GET", `${A.base}/routes/${r.body.route_id}`, { auth: alice });
    assert.equal(read.status, 200);
    assert.deepEqual(read.body, r.body);
    const list = await s.call("GET", `${A.base}/routes`, { auth: alice });
    assert.ok(
      (list.body.items as { route_id: string }[]).some((x) => x.route_id === r.body.route_id),
      "the list has the new route",
    );
    const { rows } = await s.db.pool.query(
      "SELECT event_type, org_id, app_id, env_id, payload FROM events WHERE aggregate_id = $1",
      [r.body.route_id],
    );
    assert.deepEqual(rows, [
      {
        event_type: "route.created",
        org_id: A.org,
        app_id: A.appId,
        env_id: A.envId,
        payload: {
          route_id: r.body.route_id,
          org_id: A.org,
          env_id: A.envId,
          app_id: A.appId,
          hostname: "api.shop.example",
          listen_port: 443,
          protocol_hint: "tls_passthrough",
          backend_process_type: "web",
          backend_port: 8443,
          proxy_protocol: "off",
          backend_expects_proxy_protocol: false,
          ipv4_required: false,
        },
      },
    ]);
    // Route CRUD is audited: a row and a log line with audit: true.
    const audit = await s.db.pool.query("SELECT action, target_id FROM audit_log WHERE target_id = $1", [
      r.body.route_id,
    ]);
    assert.deepEqual(audit.rows, [{ action: "route.created", target_id: r.body.route_id }]);
    assert.ok(
      s.logLines.some(
        (l) => l.audit === true && l.action === "route.created" && l.target_id === r.body.route_id,
      ),
      "an audit log line",
    );
  });
  test("bad bodies are 400 with their code and field, and append nothing", async () => {
    const before = await s.eventCount();
    const cases: [unknown, string, string][] = [
      [{ ...valid("x1.example"), colour: "red" }, "invalid_argument", "colour"],
      [valid("x2.example", { listen_port: 0 }), "invalid_argument", "listen_port"],
      [valid("x3.example", { listen_port: 65536 }), "invalid_argument", "listen_port"],
      [valid("x4.example", { listen_port: 25 }), "invalid_argument", "listen_port"],
      [valid("x5.example", { protocol_hint: "http" }), "invalid_argument", "protocol_hint"],
      [valid("x6.example", { backend_port: 70000 }), "invalid_argument", "backend_port"],
      [valid("x7.example", { backend_process_type: "Web" }), "invalid_argument", "backend_process_type"],
      [valid("x8.example", { proxy_protocol: "v1" }), "invalid_argument", "proxy_protocol"],
      [valid("x9.example", { proxy_protocol: false }), "invalid_argument", "proxy_protocol"],
      [
        { listen_port: 443, protocol_hint: "tcp_raw", backend_process_type: "web", backend_port: 1 },
        "invalid_argument",
        "hostname",
      ],
      [valid("*.example.com"), "invalid_hostname", "hostname"],
      [valid("localhost"), "invalid_hostname", "hostname"],
      [valid("10.0.0.1"), "invalid_hostname", "hostname"],
      [valid("a..example.com"), "invalid_hostname", "hostname"],
      [valid("under_score.example.com"), "invalid_hostname", "hostname"],
      [valid(`${"a".repeat(64)}.example.com`), "invalid_hostname", "hostname"],
      // Compliance 54: v2 only to a backend that expects it.
      [
        valid("x10.example", { proxy_protocol: "v2" }),
        "invalid_proxy_protocol",
        "backend_expects_proxy_protocol",
      ],
      [
        valid("x11.example", { proxy_protocol: "v2", backend_expects_proxy_protocol: false }),
        "invalid_proxy_protocol",
        "backend_expects_proxy_protocol",
      ],
    ];
    for (const [body, code, field] of cases) assertProblem(await create(A, body), 400, code, field);
    // ipv4_required without the env's add-on.
    assertProblem(
      await create(A, valid("x12.example", { ipv4_required: true })),
      409,
      "ipv4_not_enabled",
      "ipv4_required",
    );
    assert.equal(await s.eventCount(), before);
    // v2 with a backend that expects it is fine.
    const ok = await create(
      A,
      valid("x13.example", { proxy_protocol: "v2", backend_expects_proxy_protocol: true }),
    );
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(ok.body.proxy_protocol, "v2");
  });
  test("compliance 55: a hostname is unique in every case, with a trailing dot, and across orgs", async () => {
    assert.equal((await create(A, valid("Dup.Example.com"))).status, 201);
    for (const [env, auth, name] of [
      [A, alice, "dup.example.com"],
      [A, alice, "DUP.EXAMPLE.COM."],
      [A2, alice, "dup.example.com"],
      [B, bob, "dUp.example.com."],
    ] as const) {
      assertProblem(await create(env, valid(name), auth), 409, "hostname_in_use", "hostname");
    }
    // IDNA: the Unicode and punycode spellings are one name.
    assert.equal((await create(B, valid("Bücher.example"), bob)).status, 201);
    assertProblem(await create(A, valid("xn--bcher-kva.example")), 409, "hostname_in_use", "hostname");
  });
  test("two orgs racing for one hostname: exactly one wins", async () => {
    const results = await Promise.all([
      create(A, valid("race.example")),
      create(B, valid("RACE.example."), bob),
      create(A2, valid("race.example.")),
      create(B, valid("race.EXAMPLE"), bob),
    ]);
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, 409, 409, 409], JSON.stringify(results.map((r) => r.body)));
    for (const r of results) if (r.status === 409) assert.equal(r.body.code, "hostname_in_use");
  });
  test("PATCH changes the backend side only: hostname, listen_port or protocol_hint → 400 invalid_update", async () => {
    const r = await create(A, valid("patch.example"));
    const path = `${A.base}/routes/${r.body.route_id}`;
    for (const [field, value] of [
      ["hostname", "other.example"],
      ["listen_port", 8443],
      ["protocol_hint", "tcp_raw"],
    ] as const) {
      assertProblem(
        await s.call("PATCH", path, { auth: alice, body: { [field]: value, expected_version: 1 } }),
        400,
        "invalid_update",
        field,
      );
    }
    // Even the same value: the field is fixed, not just unchanged.
    assertProblem(
      await s.call("PATCH", path, { auth: alice, body: { hostname: "patch.example", expected_version: 1 } }),
      400,
      "invalid_update",
      "hostname",
    );
    assertProblem(
      await s.call("PATCH", path, { auth: alice, body: { backend_port: 9 } }),
      400,
      "invalid_expected_version",
      "expected_version",
    );
    assertProblem(
      await s.call("PATCH", path, { auth: alice, body: { backend_port: 9, expected_version: 4 } }),
      409,
      "version_conflict",
    );
    assertProblem(
      await s.call("PATCH", path, { auth: alice, body: { proxy_protocol: "v2", expected_version: 1 } }),
      400,
      "invalid_proxy_protocol",
      "backend_expects_proxy_protocol",
    );
    assertProblem(
      await s.call("PATCH", path, { auth: alice, body: { ipv4_required: true, expected_version: 1 } }),
      409,
      "ipv4_not_enabled",
      "ipv4_required",
    );
    const changed = await s.call("PATCH", path, {
      auth: alice,
      body: {
        backend_port: 9000,
        proxy_protocol: "v2",
        backend_expects_proxy_protocol: true,
        expected_version: 1,
      },
    });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal(changed.body.backend_port, 9000);
    assert.equal(changed.body.proxy_protocol, "v2");
    assert.equal(changed.body.resource_version, 2);
    assert.equal(changed.body.hostname, "patch.example");
    assert.deepEqual((await s.call("GET", path, { auth: alice })).body, changed.body);
    // Turning off expects while v2 stays on is refused too.
    assertProblem(
      await s.call("PATCH", path, {
        auth: alice,
        body: { backend_expects_proxy_protocol: false, expected_version: 2 },
      }),
      400,
      "invalid_proxy_protocol",
    );
    // Nothing to change: the route as it is, no event.
    const before = await s.eventCount();
    const same = await s.call("PATCH", path, {
      auth: alice,
      body: { backend_port: 9000, expected_version: 2 },
    });
    assert.equal(same.status, 200);
    assert.deepEqual(same.body, changed.body);
    assert.equal(await s.eventCount(), before);
    const { rows } = await s.db.pool.query(
      "SELECT payload FROM events WHERE aggregate_id = $1 AND aggregate_seq = 2",
      [r.body.route_id],
    );
    assert.deepEqual(rows[0]?.payload, {
      route_id: r.body.route_id,
      org_id: A.org,
      env_id: A.envId,
      backend_port: 9000,
      proxy_protocol: "v2",
      backend_expects_proxy_protocol: true,
    });
  });
  test("DELETE answers 204, the route is gone, and its hostname is free again", async () => {
    const r = await create(A, valid("gone.example"));
    const path = `${A.base}/routes/${r.body.route_id}`;
    const del = await s.call("DELETE", path, { auth: alice });
    assert.equal(del.status, 204);
    assertProblem(await s.call("GET", path, { auth: alice }), 404, "not_found");
    assertProblem(await s.call("DELETE", path, { auth: alice }), 404, "not_found");
    assertProblem(
      await s.call("PATCH", path, { auth: alice, body: { backend_port: 1, expected_version: 2 } }),
      404,
      "not_found",
    );
    const list = (await s.call("GET", `${A.base}/routes?limit=200`, { auth: alice })).body.items as {
      route_id: string;
    }[];
    assert.ok(!list.some((x) => x.route_id === r.body.route_id), "the list no longer has it");
    const { rows } = await s.db.pool.query(
      "SELECT payload FROM events WHERE aggregate_id = $1 AND aggregate_seq = 2",
      [r.body.route_id],
    );
    assert.deepEqual(rows[0]?.payload, {
      route_id: r.body.route_id,
      org_id: A.org,
      env_id: A.envId,
      hostname: "gone.example",
    });
    const again = await create(B, valid("Gone.Example"), bob);
    assert.equal(again.status, 201, JSON.stringify(again.body));
  });
  test("not found: unknown route, another env's route, an unknown env", async () => {
    const r = await create(A, valid("elsewhere.example"));
    const unknown = `${A.base}/routes/rt_01ARZ3NDEKTSV4RRFFQ69G5FAV`;
    assertProblem(await s.call("GET", unknown, { auth: alice }), 404, "not_found");
    assertProblem(await s.call("DELETE", unknown, { auth: alice }), 404, "not_found");
    const viaOtherEnv = `${A2.base}/routes/${r.body.route_id}`;
    assertProblem(await s.call("GET", viaOtherEnv, { auth: alice }), 404, "not_found");
    assertProblem(await s.call("DELETE", viaOtherEnv, { auth: alice }), 404, "not_found");
    assertProblem(
      await s.call("PATCH", viaOtherEnv, { auth: alice, body: { backend_port: 1, expected_version: 1 } }),
      404,
      "not_found",
    );
    const noEnv = `/v1/orgs/${A.org}/apps/${A.appId}/envs/env_01ARZ3NDEKTSV4RRFFQ69G5FAV`;
    assertProblem(await create({ base: noEnv }, valid("noenv.example")), 404, "not_found");
    assertProblem(await s.call("GET", `${noEnv}/routes`, { auth: alice }), 404, "not_found");
    assertProblem(
      await s.call("GET", `${A.base}/routes/not-an-id`, { auth: alice }),
      400,
      "invalid_argument",
    );
  });
});
