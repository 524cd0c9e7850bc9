// End-to-end over HTTP: routes and the IPv4 add-on against the org's quotas
// (spec platform.md §6.4), and the usage counters tenancy's QUOTA_USAGE can use.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { assertProblem, createEnv, createOrg, dev, type NetServer, startNetServer } from "./test-kit.ts";
import { ipv4Usage, publicPortUsage, routeUsage } from "./usage.ts";

const alice = dev("alice@example.com");
const olga = dev("olga@example.com"); // operator (PLFM_OPERATOR_EMAILS): sets quotas

const route = (hostname: string, extra: Record<string, unknown> = {}) => ({
  hostname,
  listen_port: 443,
  protocol_hint: "tls_passthrough",
  backend_process_type: "web",
  backend_port: 8080,
  ...extra,
});

describe("networking quotas", () => {
  let s: NetServer;
  before(async () => {
    s = await startNetServer("192.0.2.1", ["olga@example.com"]);
  });
  after(async () => {
    await s?.close();
  });

  test("routes and IPv4 are checked against the org's quotas (409 quota_exceeded)", async () => {
    const org = await createOrg(s, alice, "quota-net");
    const env = await createEnv(s, alice, org, "shop");
    const setQuota = async (dimension: string, limit: number | null) => {
      const r = await s.call("PUT", `/v1/orgs/${org}/quotas/${dimension}`, {
        auth: olga,
        body: { limit_value: limit },
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    assert.equal(
      (await s.call("POST", `${env.base}/routes`, { auth: alice, body: route("q1.example") })).status,
      201,
    );
    // Usage counted from the command-side rows (for tenancy's QUOTA_USAGE).
    assert.equal(await routeUsage(s.db.pool, org), 1);
    assert.equal(await publicPortUsage(s.db.pool, org), 0);

    await setQuota("max_public_ports", 0);
    const port = await s.call("POST", `${env.base}/routes`, {
      auth: alice,
      body: route("q2.example", { listen_port: 8443 }),
    });
    assertProblem(port, 409, "quota_exceeded");
    assert.equal((port.body.quota as { dimension: string }).dimension, "max_public_ports");
    // 443 does not count toward public ports.
    assert.equal(
      (await s.call("POST", `${env.base}/routes`, { auth: alice, body: route("q3.example") })).status,
      201,
    );

    await setQuota("max_routes", 0);
    const routes = await s.call("POST", `${env.base}/routes`, { auth: alice, body: route("q4.example") });
    assertProblem(routes, 409, "quota_exceeded");
    assert.equal((routes.body.quota as { dimension: string }).dimension, "max_routes");

    await setQuota("max_ipv4_allocations", 0);
    const v4 = await s.call("POST", `${env.base}/networking/ipv4`, { auth: alice });
    assertProblem(v4, 409, "quota_exceeded");
    assert.equal((v4.body.quota as { dimension: string }).dimension, "max_ipv4_allocations");
    await setQuota("max_ipv4_allocations", 1);
    assert.equal((await s.call("POST", `${env.base}/networking/ipv4`, { auth: alice })).status, 200);
    assert.equal(await ipv4Usage(s.db.pool, org), 1);
    // Enabling an enabled env takes nothing more, so the full quota does not refuse it.
    assert.equal((await s.call("POST", `${env.base}/networking/ipv4`, { auth: alice })).status, 200);
  });
});
