// Tenant isolation (issue 3 acceptance), driven by GET /v1/openapi.json: for
// every operation under /v1/orgs/{org…}: no token → 401; a member of org B
// on org A's ids → 403 or 404, never 2xx, and nothing appended; a member of A
// whose token lacks the operation's scope → 403 insufficient_scope.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { dev, type Harness, makeOrg, startHarness } from "../storage/test-kit.ts";
import {
  type Fixture,
  fillPath,
  loadOperations,
  MUTATIONS,
  makeFixture,
  type Operation,
  rawCall,
} from "./openapi-kit.ts";

let h: Harness;
let A: Fixture;
let ops: Operation[];
const bob = dev("bob@example.com");

before(async () => {
  h = await startHarness();
  A = await makeFixture(h, "alice@example.com", "iso-a");
  await makeOrg(h, "bob@example.com", "iso-b");
  ops = (await loadOperations(h)).filter((op) => op.path.startsWith("/v1/orgs/{"));
});
after(async () => h?.close());

const bodyFor = (op: Operation) => (op.body ? "{}" : undefined);
const eventCount = async () =>
  (await h.db.pool.query("SELECT count(*)::int AS n FROM events")).rows[0].n as number;

test("the document lists the org operations this test walks", async (t) => {
  assert.ok(ops.length >= 40, `only ${ops.length} operations under /v1/orgs/{org}`);
  for (const note of A.notes) t.diagnostic(`fixture: ${note} (a random well-formed id is used instead)`);
  const unscoped = ops.filter((op) => op.scopes === null || op.scopes.length === 0);
  assert.deepEqual(
    unscoped.map((op) => op.operationId),
    [],
    "every org operation documents its scope",
  );
});

test("(a) without a token every org operation is 401", async () => {
  const wrong: string[] = [];
  for (const op of ops) {
    const r = await rawCall(h, op.method, fillPath(op, A), { body: bodyFor(op) });
    if (r.status !== 401 || r.body.code !== "unauthorized")
      wrong.push(`${op.operationId} → ${r.status} ${r.body.code}`);
  }
  assert.deepEqual(wrong, []);
});

test("(b) a member of org B on org A's ids gets 403 or 404, never 2xx, and appends nothing", async (t) => {
  const wrong: string[] = [];
  const events = await eventCount();
  for (const op of ops) {
    const r = await rawCall(h, op.method, fillPath(op, A), { auth: bob, body: bodyFor(op) });
    const problem = (r.headers.get("content-type") ?? "").startsWith("application/problem+json");
    if (!(r.status === 403 || r.status === 404) || !problem) {
      wrong.push(`${op.method} ${op.path} (${op.operationId}) → ${r.status} ${r.body.code}`);
    }
  }
  assert.deepEqual(wrong, []);
  assert.equal(await eventCount(), events);
  const random = [...A.random].sort();
  if (random.length > 0)
    t.diagnostic(`params filled with random well-formed ids (no real resource): ${random.join(", ")}`);
});

test("(c) a member of A whose token lacks the scope gets 403 insufficient_scope", async (t) => {
  const wrong: string[] = [];
  const events = await eventCount();
  const allowed: string[] = [];
  for (const op of ops) {
    const needsMore = (op.scopes ?? []).some((s) => s !== "orgs:read");
    const r = await rawCall(h, op.method, fillPath(op, A), { auth: A.readOnlyToken, body: bodyFor(op) });
    if (needsMore) {
      if (r.status !== 403 || r.body.code !== "insufficient_scope") {
        wrong.push(`${op.operationId} (${op.scopes}) → ${r.status} ${r.body.code}`);
      }
    } else {
      // orgs:read suffices: the call is let through (its answer is the endpoint's own).
      allowed.push(op.operationId);
      if (r.status === 401 || r.status === 403 || r.status >= 500)
        wrong.push(`${op.operationId} → ${r.status}`);
    }
  }
  assert.deepEqual(wrong, []);
  assert.equal(await eventCount(), events);
  t.diagnostic(`orgs:read alone is enough for: ${allowed.join(", ")}`);
  const mutations = ops.filter((op) => MUTATIONS.has(op.method));
  assert.ok(
    mutations.every((op) => !allowed.includes(op.operationId)),
    "every mutation needs more than orgs:read",
  );
});
