import assert from "node:assert/strict";
import { test } from "node:test";
import { nodeLoads } from "./loads.ts";
import { GiB, instance, node, SETTINGS } from "./test-kit.ts";

test("node load is committed memory (with overhead) over allocatable − reserved", () => {
  const nodes = [
    node("nod_a", { reserved_memory_bytes: 0 }),
    node("nod_b"),
    node("nod_z", { allocatable: { cpu_cores: 1, memory_bytes: 0 } }),
  ];
  const live = [
    instance("nod_a", { memory_limit_bytes: 1 * GiB - SETTINGS.overhead_bytes }),
    instance("nod_a", { status: "stopped" }),
  ];
  const loads = nodeLoads(nodes, live, SETTINGS);
  assert.equal(loads.get("nod_a"), 0.25);
  assert.equal(loads.get("nod_b"), 0);
  assert.equal(loads.get("nod_z"), Number.POSITIVE_INFINITY);
});
