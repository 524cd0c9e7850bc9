import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { isKernelError } from "@plfm/kernel";
import { problemFromError } from "../http/problem.ts";
import {
  assertInvalid,
  assertInvalidVersion,
  assertProblem,
  startTestServer,
  type TestServer,
  user,
} from "./http-test-kit.ts";
import { checkQuota, QUOTA_DEFAULTS, QUOTA_DIMENSIONS } from "./quotas.ts";

let t: TestServer;
before(async () => {
  t = await startTestServer(["ops@example.com"]);
});
after(async () => {
  await t?.close();
});

const alice = user("alice@example.com");
const ops = user("ops@example.com");

async function newOrg(name: string): Promise<string> {
  const r = await t.call("POST", "/v1/orgs", { auth: alice, body: { name } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return String(r.body.org_id);
}

const quotas = async (org: string) => {
  const r = await t.call("GET", `/v1/orgs/${org}/quotas`, { auth: alice });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.items as { dimension: string; limit: number | null; current_usage: number }[];
};

describe("quotas", () => {
  test("GET lists every dimension with its v1 default and usage", async () => {
    const org = await newOrg("q-defaults");
    const items = await quotas(org);
    assert.deepEqual(
      items.map((q) => q.dimension),
      QUOTA_DIMENSIONS,
    );
    const byName = new Map(items.map((q) => [q.dimension, q]));
    assert.deepEqual(byName.get("max_apps"), {
      dimension: "max_apps",
      limit: 20,
      current_usage: 0,
      resource_version: 0,
    });
    assert.equal(byName.get("max_total_memory_bytes")?.limit, 64 * 1024 ** 3);
    assert.equal(byName.get("max_hostnames")?.limit, null);
  });

  test("an operator sets a quota (org.quota_set); the next read shows it", async () => {
    const org = await newOrg("q-set");
    const path = `/v1/orgs/${org}/quotas/max_apps`;
    const r = await t.call("PUT", path, { auth: ops, body: { limit_value: 3 } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { dimension: "max_apps", limit: 3, current_usage: 0, resource_version: 1 });
    const listed = (await quotas(org)).find((q) => q.dimension === "max_apps");
    assert.deepEqual(listed, r.body);
    const { rows } = await t.db.pool.query(
      "SELECT aggregate_type, aggregate_id, payload FROM events WHERE event_type = 'org.quota_set' AND org_id = $1",
      [org],
    );
    assert.deepEqual(rows, [
      {
        aggregate_type: "org",
        aggregate_id: org,
        payload: { org_id: org, dimension: "max_apps", limit_value: 3 },
      },
    ]);
    // null lifts the limit.
    const lifted = await t.call("PUT", path, { auth: ops, body: { limit_value: null, expected_version: 1 } });
    assert.equal(lifted.status, 200, JSON.stringify(lifted.body));
    assert.equal(lifted.body.limit, null);
    assert.equal(lifted.body.resource_version, 2);
    // A quota change moves the org's resource_version, and the org view agrees (PATCH still works).
    const o = await t.call("GET", `/v1/orgs/${org}`, { auth: alice });
    assert.equal(o.body.resource_version, 3);
    const patch = await t.call("PATCH", `/v1/orgs/${org}`, {
      auth: alice,
      body: { name: "q-set-renamed", expected_version: 3 },
    });
    assert.equal(patch.status, 200, JSON.stringify(patch.body));
  });

  test("PUT needs nodes:admin: members, even owners, get 403 insufficient_scope", async () => {
    const org = await newOrg("q-operator");
    const before = await t.eventCount();
    assertProblem(
      await t.call("PUT", `/v1/orgs/${org}/quotas/max_apps`, { auth: alice, body: { limit_value: 1000 } }),
      403,
      "insufficient_scope",
    );
    assertProblem(
      await t.call("PUT", `/v1/orgs/${org}/quotas/max_apps`, { body: { limit_value: 1000 } }),
      401,
      "unauthorized",
    );
    assert.equal(await t.eventCount(), before);
  });

  test("reads need membership; the operator is not a member", async () => {
    const org = await newOrg("q-read");
    assertProblem(
      await t.call("GET", `/v1/orgs/${org}/quotas`, { auth: user("mallory@example.com") }),
      403,
      "org_access_denied",
    );
    assertProblem(await t.call("GET", `/v1/orgs/${org}/quotas`, { auth: ops }), 403, "org_access_denied");
  });

  test("bad input is 400 naming the field; an unknown org is 404", async () => {
    const org = await newOrg("q-valid");
    const before = await t.eventCount();
    const put = (dimension: string, body: unknown) =>
      t.call("PUT", `/v1/orgs/${org}/quotas/${dimension}`, { auth: ops, body });
    assertInvalid(await put("max_unicorns", { limit_value: 1 }), "dimension");
    assertInvalid(await put("max_apps", { limit_value: -1 }), "limit_value");
    assertInvalid(await put("max_apps", { limit_value: 1.5 }), "limit_value");
    assertInvalid(await put("max_apps", { limit_value: "5" }), "limit_value");
    assertInvalid(await put("max_apps", {}), "limit_value");
    assertInvalid(await put("max_apps", { limit_value: 1, colour: "red" }), "colour");
    assertInvalidVersion(await put("max_apps", { limit_value: 1, expected_version: -1 }));
    assert.equal(await t.eventCount(), before);
    assertProblem(
      await t.call("PUT", "/v1/orgs/org_01ARZ3NDEKTSV4RRFFQ69G5FAV/quotas/max_apps", {
        auth: ops,
        body: { limit_value: 1 },
      }),
      404,
      "not_found",
    );
  });

  test("a stale expected_version is version_conflict", async () => {
    const org = await newOrg("q-version");
    const path = `/v1/orgs/${org}/quotas/max_routes`;
    assertProblem(
      await t.call("PUT", path, { auth: ops, body: { limit_value: 5, expected_version: 1 } }),
      409,
      "version_conflict",
    );
    assert.equal(
      (await t.call("PUT", path, { auth: ops, body: { limit_value: 5, expected_version: 0 } })).status,
      200,
    );
    assertProblem(
      await t.call("PUT", path, { auth: ops, body: { limit_value: 6, expected_version: 0 } }),
      409,
      "version_conflict",
    );
  });

  test("Idempotency-Key replays a PUT without appending; another body is refused", async () => {
    const org = await newOrg("q-idem");
    const path = `/v1/orgs/${org}/quotas/max_volumes`;
    const first = await t.call("PUT", path, { auth: ops, body: { limit_value: 7 }, key: "quota-vol-01" });
    assert.equal(first.status, 200);
    const before = await t.eventCount();
    const again = await t.call("PUT", path, { auth: ops, body: { limit_value: 7 }, key: "quota-vol-01" });
    assert.equal(again.status, 200);
    assert.equal(again.headers.get("idempotency-replayed"), "true");
    assert.deepEqual(again.body, first.body);
    assertProblem(
      await t.call("PUT", path, { auth: ops, body: { limit_value: 8 }, key: "quota-vol-01" }),
      409,
      "idempotency_key_reuse",
    );
    assert.equal(await t.eventCount(), before);
  });

  test("usage counts the apps context's apps; checkQuota refuses the app past the limit", async () => {
    const org = await newOrg("q-usage");
    for (const name of ["one", "two"]) {
      const r = await t.call("POST", `/v1/orgs/${org}/apps`, { auth: alice, body: { name } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    assert.equal((await quotas(org)).find((q) => q.dimension === "max_apps")?.current_usage, 2);
    const set = await t.call("PUT", `/v1/orgs/${org}/quotas/max_apps`, {
      auth: ops,
      body: { limit_value: 2 },
    });
    assert.deepEqual(set.body, { dimension: "max_apps", limit: 2, current_usage: 2, resource_version: 1 });
    await assert.rejects(checkQuota(t.db.pool, org, "max_apps", 1), (err: unknown) => {
      assert.ok(isKernelError(err, "quota_exceeded"));
      assert.deepEqual(err.extra, {
        quota: { dimension: "max_apps", limit: 2, current_usage: 2, requested_delta: 1 },
      });
      return true;
    });
    const third = await t.call("POST", `/v1/orgs/${org}/apps`, { auth: alice, body: { name: "three" } });
    assertProblem(third, 409, "quota_exceeded");
    assert.deepEqual(third.body.quota, {
      dimension: "max_apps",
      limit: 2,
      current_usage: 2,
      requested_delta: 1,
    });
  });

  test("checkQuota refuses past the limit with 409 quota_exceeded and the quota's figures", async () => {
    const org = await newOrg("q-check");
    // Defaults apply until set; usage of contexts not built yet is 0.
    await checkQuota(t.db.pool, org, "max_apps", QUOTA_DEFAULTS.max_apps);
    const over = await checkQuota(t.db.pool, org, "max_apps", QUOTA_DEFAULTS.max_apps + 1).then(
      () => assert.fail("expected quota_exceeded"),
      (err: unknown) => err,
    );
    assert.ok(isKernelError(over, "quota_exceeded"), String(over));
    assert.deepEqual(over.extra, {
      quota: { dimension: "max_apps", limit: 20, current_usage: 0, requested_delta: 21 },
    });
    const doc = problemFromError(over, "req_test");
    assert.equal(doc.status, 409);
    assert.equal(doc.body.code, "quota_exceeded");
    assert.deepEqual(doc.body.quota, {
      dimension: "max_apps",
      limit: 20,
      current_usage: 0,
      requested_delta: 21,
    });

    // A limit of 0 refuses any addition; freeing (delta ≤ 0) is always allowed.
    await t.call("PUT", `/v1/orgs/${org}/quotas/max_envs`, { auth: ops, body: { limit_value: 0 } });
    await assert.rejects(checkQuota(t.db.pool, org, "max_envs", 1), (err: unknown) =>
      isKernelError(err, "quota_exceeded"),
    );
    await checkQuota(t.db.pool, org, "max_envs", 0);
    await checkQuota(t.db.pool, org, "max_envs", -1);
    // Unlimited dimensions never refuse.
    await checkQuota(t.db.pool, org, "max_hostnames", 1_000_000);
    // Inside a transaction too (the lock is transaction-scoped).
    const client = await t.db.pool.connect();
    try {
      await client.query("BEGIN");
      await checkQuota(client, org, "max_apps", 1);
      await client.query("COMMIT");
    } finally {
      client.release();
    }
  });
});
