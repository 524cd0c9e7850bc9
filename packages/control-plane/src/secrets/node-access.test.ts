import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { mayNodeReadVersion, type NodeSecretsPlan, type PlannedInstance } from "./node-access.ts";

const NODE = "node_01HZY0000000000000000000AA";
const OTHER = "node_01HZY0000000000000000000BB";
const V1 = "sv_01HZY0000000000000000000AA";
const V2 = "sv_01HZY0000000000000000000BB";

const inst = (over: Partial<PlannedInstance> = {}): PlannedInstance => ({
  instance_id: "inst_01HZY0000000000000000000AA",
  node_id: NODE,
  desired_state: "running",
  status: "ready",
  secrets_version_id: V1,
  ...over,
});
const plan = (...instances: PlannedInstance[]): NodeSecretsPlan => ({ node_id: NODE, instances });

describe("mayNodeReadVersion", () => {
  test("a running instance on the node that references the version grants access", () => {
    for (const status of ["allocated", "preparing", "booting", "ready", "draining"]) {
      assert.equal(mayNodeReadVersion(plan(inst({ status })), NODE, V1), true, status);
    }
    assert.equal(mayNodeReadVersion(plan(inst({ desired_state: "draining" })), NODE, V1), true);
  });

  test("another version, no version, or an empty plan is refused", () => {
    assert.equal(mayNodeReadVersion(plan(inst()), NODE, V2), false);
    assert.equal(mayNodeReadVersion(plan(inst({ secrets_version_id: null })), NODE, V1), false);
    assert.equal(mayNodeReadVersion(plan(inst({ secrets_version_id: undefined })), NODE, V1), false);
    assert.equal(mayNodeReadVersion(plan(), NODE, V1), false);
    assert.equal(mayNodeReadVersion(plan(inst({ secrets_version_id: "" })), NODE, ""), false);
  });

  test("stopped or failed instances, or ones meant to stop, grant nothing", () => {
    assert.equal(mayNodeReadVersion(plan(inst({ status: "stopped" })), NODE, V1), false);
    assert.equal(mayNodeReadVersion(plan(inst({ status: "failed" })), NODE, V1), false);
    assert.equal(mayNodeReadVersion(plan(inst({ desired_state: "stopped" })), NODE, V1), false);
  });

  test("another node's plan or instance grants nothing (compliance 45)", () => {
    assert.equal(mayNodeReadVersion(plan(inst()), OTHER, V1), false);
    assert.equal(mayNodeReadVersion({ node_id: OTHER, instances: [inst()] }, OTHER, V1), false);
    assert.equal(mayNodeReadVersion(plan(inst({ node_id: OTHER })), NODE, V1), false);
  });

  test("one qualifying instance among others is enough", () => {
    const p = plan(
      inst({ status: "stopped" }),
      inst({ secrets_version_id: V2 }),
      inst({ status: "booting" }),
    );
    assert.equal(mayNodeReadVersion(p, NODE, V1), true);
    assert.equal(mayNodeReadVersion(p, NODE, V2), true);
  });
});
