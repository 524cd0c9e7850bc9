// The networking views are pure functions of the log: rebuilding them from
// zero gives the rows incremental application gave (compliance 8).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { headPosition, rebuildProjection } from "@plfm/kernel";
import { envNetworkingProjection, routesProjection } from "./projections.ts";
import { createEnv, createOrg, dev, type NetServer, startNetServer } from "./test-kit.ts";

let s: NetServer;
const alice = dev("alice@example.com");

before(async () => {
  s = await startNetServer("192.0.2.10, 192.0.2.11");
});
after(async () => {
  await s?.close();
});

const snapshot = async () => ({
  routes: (await s.db.pool.query("SELECT * FROM routes ORDER BY route_id")).rows,
  env_networking: (await s.db.pool.query("SELECT * FROM env_networking ORDER BY env_id")).rows,
});

test("rebuilding routes and env_networking from zero matches incremental application", async () => {
  const org = await createOrg(s, alice, "rebuild");
  const one = await createEnv(s, alice, org, "one");
  const two = await createEnv(s, alice, org, "two");
  const body = (hostname: string) => ({
    hostname,
    listen_port: 443,
    protocol_hint: "tls_passthrough",
    backend_process_type: "web",
    backend_port: 8080,
  });
  assert.equal((await s.call("POST", `${one.base}/networking/ipv4`, { auth: alice })).status, 200);
  assert.equal((await s.call("POST", `${two.base}/networking/ipv4`, { auth: alice })).status, 200);
  assert.equal((await s.call("DELETE", `${two.base}/networking/ipv4`, { auth: alice })).status, 204);
  const kept = await s.call("POST", `${one.base}/routes`, { auth: alice, body: body("kept.example") });
  const patch = { backend_port: 9090, ipv4_required: true, expected_version: 1 };
  assert.equal(
    (await s.call("PATCH", `${one.base}/routes/${kept.body.route_id}`, { auth: alice, body: patch })).status,
    200,
  );
  const gone = await s.call("POST", `${two.base}/routes`, { auth: alice, body: body("gone.example") });
  assert.equal(
    (await s.call("DELETE", `${two.base}/routes/${gone.body.route_id}`, { auth: alice })).status,
    204,
  );

  const incremental = await snapshot();
  assert.equal(incremental.routes.length, 2);
  assert.equal(incremental.env_networking.length, 2);
  for (const p of [routesProjection, envNetworkingProjection]) await rebuildProjection(s.db.pool, p);
  await s.server.kernel.watcher.waitFor(await headPosition(s.db.pool), ["routes", "env_networking"], {
    timeoutMs: 10_000,
  });
  assert.deepEqual(await snapshot(), incremental);
});
