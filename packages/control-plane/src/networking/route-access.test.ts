// End-to-end over HTTP: the routes API's access rules, idempotency, ports and lists (spec platform.md §8.3, §8.4).
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

let s: NetServer;
const alice = dev("alice@example.com");
const bob = dev("bob@example.com");
const rita = dev("rita@example.com"); // readonly member of alice's org
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
  await addMember(s, alice, orgA, "rita@example.com", "readonly");
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

describe("routes: access, replays, ports, lists", () => {
  test("an Idempotency-Key replays create and delete and appends nothing; another body is refused", async () => {
    const key = "route-create-0001";
    const first = await create(A, valid("replay.example"), alice, key);
    assert.equal(first.status, 201);
    const before = await s.eventCount();
    const again = await create(A, valid("replay.example"), alice, key);
    assert.equal(again.status, 201);
    assert.equal(again.headers.get("idempotency-replayed"), "true");
    assert.deepEqual(again.body, first.body);
    assert.equal(await s.eventCount(), before);
    assertProblem(await create(A, valid("replay-2.example"), alice, key), 409, "idempotency_key_reuse");
    // Concurrent twins: one route, one answer.
    const twinKey = "route-create-twin-0001";
    const twins = await Promise.all([1, 2, 3].map(() => create(A, valid("twin.example"), alice, twinKey)));
    for (const t of twins) assert.equal(t.status, 201, JSON.stringify(t.body));
    assert.equal(new Set(twins.map((t) => t.body.route_id)).size, 1);
    // The path is part of the request: the same key and body sent to two envs
    // at once creates one route; the same env's twin replays it, the other
    // env's requests are refused as key reuse.
    const crossKey = "route-create-cross-0001";
    const cross = await Promise.all(
      [A, A2, A, A2].map((env) => create(env, valid("cross.example"), alice, crossKey)),
    );
    const created = cross.filter((t) => t.status === 201);
    assert.equal(created.length, 2, JSON.stringify(cross.map((t) => t.status)));
    assert.equal(new Set(created.map((t) => t.body.route_id)).size, 1);
    for (const t of cross.filter((t) => t.status !== 201)) assertProblem(t, 409, "idempotency_key_reuse");
    const path = `${A.base}/routes/${first.body.route_id}`;
    assert.equal((await s.call("DELETE", path, { auth: alice, key: "route-delete-0001" })).status, 204);
    const count = await s.eventCount();
    const delAgain = await s.call("DELETE", path, { auth: alice, key: "route-delete-0001" });
    assert.equal(delAgain.status, 204);
    assert.equal(delAgain.headers.get("idempotency-replayed"), "true");
    assert.equal(await s.eventCount(), count);
  });
  test("another org's member gets 403; a readonly member reads but cannot write", async () => {
    const r = await create(A, valid("private.example"));
    const path = `${A.base}/routes/${r.body.route_id}`;
    assertProblem(await s.call("GET", `${A.base}/routes`, { auth: bob }), 403, "org_access_denied");
    assertProblem(await s.call("GET", path, { auth: bob }), 403, "org_access_denied");
    assertProblem(await create(A, valid("stolen.example"), bob), 403, "org_access_denied");
    assertProblem(await s.call("DELETE", path, { auth: bob }), 403, "org_access_denied");
    // Bob's own org in the path with alice's app and env: not found, nothing leaks.
    const mixed = `/v1/orgs/${B.org}/apps/${A.appId}/envs/${A.envId}`;
    assertProblem(await s.call("GET", `${mixed}/routes/${r.body.route_id}`, { auth: bob }), 404, "not_found");
    assertProblem(await s.call("GET", `${mixed}/routes`, { auth: bob }), 404, "not_found");
    assertProblem(await create({ base: mixed }, valid("mixed.example"), bob), 404, "not_found");
    assertProblem(
      await s.call("DELETE", `${mixed}/routes/${r.body.route_id}`, { auth: bob }),
      404,
      "not_found",
    );
    assert.equal((await s.call("GET", path, { auth: alice })).status, 200);
    // readonly has routes:read only.
    assert.equal((await s.call("GET", path, { auth: rita })).status, 200);
    assert.equal((await s.call("GET", `${A.base}/routes`, { auth: rita })).status, 200);
    assertProblem(await create(A, valid("rita.example"), rita), 403, "insufficient_scope");
    assertProblem(
      await s.call("PATCH", path, { auth: rita, body: { backend_port: 1, expected_version: 1 } }),
      403,
      "insufficient_scope",
    );
    assertProblem(await s.call("DELETE", path, { auth: rita }), 403, "insufficient_scope");
    assertProblem(await s.call("GET", `${A.base}/routes`), 401, "unauthorized");
  });
  test("ports: tls_passthrough shares, tcp_raw owns its port (409 port_in_use)", async () => {
    const raw = { protocol_hint: "tcp_raw", listen_port: 5432 };
    assert.equal((await create(A, valid("pg-a.example", raw))).status, 201);
    assertProblem(await create(B, valid("pg-b.example", raw), bob), 409, "port_in_use", "listen_port");
    assertProblem(
      await create(A2, valid("pg-c.example", { listen_port: 5432 })),
      409,
      "port_in_use",
      "listen_port",
    );
    assertProblem(
      await create(A, valid("pg-d.example", { listen_port: 5432 })),
      409,
      "port_in_use",
      "listen_port",
    );
    // 443 is the shared TLS listener: many tls routes, no tcp_raw on the shared address.
    assert.equal((await create(B, valid("tls-b.example"), bob)).status, 201);
    assertProblem(
      await create(A2, valid("raw443.example", { protocol_hint: "tcp_raw" })),
      409,
      "port_in_use",
      "listen_port",
    );
    // A deleted route frees its port.
    const list = (await s.call("GET", `${A.base}/routes?limit=200`, { auth: alice })).body.items as {
      route_id: string;
      hostname: string;
    }[];
    const pg = list.find((x) => x.hostname === "pg-a.example");
    assert.equal((await s.call("DELETE", `${A.base}/routes/${pg?.route_id}`, { auth: alice })).status, 204);
    assert.equal((await create(B, valid("pg-b.example", raw), bob)).status, 201);
  });
  test("lists page by cursor, in id order", async () => {
    const env = await createEnv(s, alice, A.org, "paged");
    const made: string[] = [];
    for (const h of ["p1.example", "p2.example", "p3.example"]) {
      made.push(String((await create(env, valid(h))).body.route_id));
    }
    const all = (await s.call("GET", `${env.base}/routes?limit=200`, { auth: alice })).body;
    assert.deepEqual(
      (all.items as { route_id: string }[]).map((x) => x.route_id),
      [...made].sort(),
    );
    assert.equal(all.next_cursor, null);
    const first = await s.call("GET", `${env.base}/routes?limit=2`, { auth: alice });
    assert.equal((first.body.items as unknown[]).length, 2);
    assert.equal(typeof first.body.next_cursor, "string");
    const second = await s.call("GET", `${env.base}/routes?limit=2&cursor=${first.body.next_cursor}`, {
      auth: alice,
    });
    assert.deepEqual(
      (second.body.items as { route_id: string }[]).map((x) => x.route_id),
      [...made].sort().slice(2),
    );
    assert.equal(second.body.next_cursor, null);
    assertProblem(
      await s.call("GET", `${env.base}/routes?cursor=p1.bm9wZQ`, { auth: alice }),
      400,
      "invalid_cursor",
    );
  });

  test("an env with routes cannot be deleted", async () => {
    const env = await createEnv(s, alice, A.org, "api", "staging");
    const r = await create(env, valid("staging.example"));
    assert.equal(r.status, 201);
    const del = await s.call("DELETE", env.base, { auth: alice });
    assert.equal(del.status, 409, JSON.stringify(del.body));
    assert.equal(
      (await s.call("DELETE", `${env.base}/routes/${r.body.route_id}`, { auth: alice })).status,
      204,
    );
    assert.equal((await s.call("DELETE", env.base, { auth: alice })).status, 204);
    assertProblem(await create(env, valid("after-delete.example")), 404, "not_found");
  });
  test("the OpenAPI document lists the networking endpoints with their schemas", async () => {
    const doc = await s.call("GET", "/v1/openapi.json");
    const paths = doc.body.paths as Record<
      string,
      Record<string, { operationId?: string; requestBody?: unknown }>
    >;
    const E = "/v1/orgs/{org}/apps/{app}/envs/{env}";
    assert.equal(paths[`${E}/routes`]?.post?.operationId, "routes.create");
    assert.ok(paths[`${E}/routes`]?.post?.requestBody, "the create body is documented");
    assert.equal(paths[`${E}/routes`]?.get?.operationId, "routes.list");
    assert.equal(paths[`${E}/routes/{route}`]?.patch?.operationId, "routes.update");
    assert.equal(paths[`${E}/routes/{route}`]?.delete?.operationId, "routes.delete");
    assert.equal(paths[`${E}/networking`]?.get?.operationId, "networking.get");
    assert.equal(paths[`${E}/networking/ipv4`]?.post?.operationId, "networking.ipv4.enable");
    assert.equal(paths[`${E}/networking/ipv4`]?.delete?.operationId, "networking.ipv4.disable");
  });
});
