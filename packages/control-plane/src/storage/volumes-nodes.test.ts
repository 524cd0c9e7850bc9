// Home nodes from the `nodes` view (the fleet context's), whose rows this
// file sets directly with fleet's seedNode.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { seedNode } from "../fleet/test-seed.ts";
import {
  assertProblem,
  dev,
  GiB,
  type Harness,
  makeOrg,
  nodeA,
  nodeB,
  ok,
  startHarness,
} from "./test-kit.ts";

let h: Harness;
let org: string;
const alice = dev("alice@example.com");
const nodeC = "node_01JCCCCCCCCCCCCCCCCCCCCCCC";
const nodeD = "node_01JDDDDDDDDDDDDDDDDDDDDDDD";

before(async () => {
  h = await startHarness();
  org = await makeOrg(h, "alice@example.com", "nodes-org");
});
after(async () => h?.close());

const setNodes = async (rows: [string, string, string[]][]) => {
  await h.db.pool.query("DELETE FROM nodes");
  for (const [id, state, roles] of rows) await seedNode(h.db.pool, id, state, roles);
};
const create = (body: Record<string, unknown>) =>
  h.call("POST", `/v1/orgs/${org}/volumes`, { auth: alice, body: { size_bytes: GiB, ...body } });

test("without a home node the volume goes to the active worker with the smallest id", async () => {
  await setNodes([
    [nodeD, "active", ["worker"]],
    [nodeC, "active", ["worker", "edge"]],
    [nodeA, "draining", ["worker"]],
    [nodeB, "active", ["edge"]],
  ]);
  assert.equal(ok(await create({}), 201).home_node_id, nodeC);
});

test("a named home node must be an active worker (400 on home_node_id)", async () => {
  await setNodes([
    [nodeA, "draining", ["worker"]],
    [nodeB, "active", ["edge"]],
    [nodeC, "active", ["worker"]],
  ]);
  assertProblem(await create({ home_node_id: nodeA }), 400, "invalid_argument", "home_node_id");
  assertProblem(await create({ home_node_id: nodeB }), 400, "invalid_argument", "home_node_id");
  assertProblem(await create({ home_node_id: nodeD }), 400, "invalid_argument", "home_node_id");
  assert.equal(ok(await create({ home_node_id: nodeC }), 201).home_node_id, nodeC);
});

test("no active worker: 409 no_capacity, and nothing appended", async () => {
  await setNodes([[nodeA, "offline", ["worker"]]]);
  const before = await h.eventCount();
  assertProblem(await create({}), 409, "no_capacity");
  assert.equal(await h.eventCount(), before);
});
