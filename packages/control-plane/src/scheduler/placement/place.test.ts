import assert from "node:assert/strict";
import { test } from "node:test";
import { placeGroup } from "./place.ts";
import { emptyIpam, GiB, instance, MiB, NOW, node, request, SETTINGS } from "./test-kit.ts";
import type { NodeFacts, PlacementRequest } from "./types.ts";

const place = (
  nodes: NodeFacts[],
  live = [] as ReturnType<typeof instance>[],
  req = request(),
  ipam = emptyIpam(),
) => placeGroup(nodes, live, req, ipam, SETTINGS, NOW);

const vol = (
  volume_id: string,
  home_node_id: string,
  over: Partial<PlacementRequest["volumes"][0]> = {},
) => ({
  volume_id,
  home_node_id,
  home_node_state: "active" as const,
  ...over,
});

test("a fitting node gets the instance and the first instance address", () => {
  const r = place([node("nod_a")]);
  assert.deepEqual(r.placements, [{ node_id: "nod_a", overlay_ipv6: "fd70:6c66:0:1::1" }]);
  assert.equal(r.blocked, undefined);
  assert.equal(r.next_hint, 2);
});

test("ties go to the smallest node_id, whatever the input order (compliance 37)", () => {
  const r = place([node("nod_c"), node("nod_a"), node("nod_b")]);
  assert.equal(r.placements[0]?.node_id, "nod_a");
});

test("replicas spread across nodes before CPU headroom decides", () => {
  const big = node("nod_b", { allocatable: { cpu_cores: 64, memory_bytes: 64 * GiB } });
  // Both idle: a tie, so nod_a; then nod_b to spread; then the third replica
  // goes where one replica costs the least CPU headroom.
  const r = place([node("nod_a"), big], [], request({ count: 3 }));
  assert.deepEqual(
    r.placements.map((p) => p.node_id),
    ["nod_a", "nod_b", "nod_b"],
  );
  // An existing replica on the big node sends the next one to the small, CPU-busier node.
  const other = instance("nod_a", { group: { env_id: "env_x", process_type: "w" }, cpu_request: 2 });
  const spread = place([node("nod_a"), big], [instance("nod_b"), other]);
  assert.equal(spread.placements[0]?.node_id, "nod_a");
});

test("CPU headroom decides between otherwise equal nodes, and CPU never blocks", () => {
  const busy = instance("nod_a", { group: { env_id: "env_x", process_type: "w" }, cpu_request: 8 });
  const r = place([node("nod_a"), node("nod_b")], [busy]);
  assert.equal(r.placements[0]?.node_id, "nod_b");
  // 4 cores × 4.0 overcommit = 16 cores; 40 cores requested still places (soft).
  const hog = place([node("nod_a")], [instance("nod_a", { cpu_request: 40, memory_limit_bytes: 64 * MiB })]);
  assert.equal(hog.placements.length, 1);
});

test("recent boot failures push a node down", () => {
  const r = place([node("nod_a", { recent_boot_failures: 1 }), node("nod_b")]);
  assert.equal(r.placements[0]?.node_id, "nod_b");
});

test("no_capacity_memory: memory counts limit + overhead + reserved, with the facts", () => {
  // capacity 4 GiB − 256 MiB = 3.75 GiB; committed 6 × (512 + 64) MiB = 3.375 GiB; needed 576 MiB.
  const live = Array.from({ length: 6 }, () => instance("nod_a"));
  const r = place([node("nod_a")], live);
  assert.equal(r.placements.length, 0);
  assert.equal(r.blocked?.reason, "no_capacity_memory");
  assert.deepEqual(r.blocked?.facts.nodes, [
    {
      node_id: "nod_a",
      rejection: {
        reason: "memory",
        committed_bytes: 6 * 576 * MiB,
        needed_bytes: 576 * MiB,
        capacity_bytes: 3840 * MiB,
      },
    },
  ]);
  assert.match(r.blocked?.detail ?? "", /memory committed 3.38 GiB \+ needed 576 MiB > 3.75 GiB/);
  // Stopped, failed and stop-desired instances free their memory; draining ones do not.
  const freed = live.map((i, k) =>
    k === 0 ? { ...i, status: "failed" as const } : k === 1 ? { ...i, desired_state: "stopped" as const } : i,
  );
  assert.equal(place([node("nod_a")], freed).placements.length, 1);
  const draining = live.map((i) => ({ ...i, desired_state: "draining" as const }));
  assert.equal(place([node("nod_a")], draining).blocked?.reason, "no_capacity_memory");
});

test("instances placed in the same call count against memory", () => {
  // 3.75 GiB / 576 MiB = 6.67 → six fit, the seventh is blocked.
  const r = place([node("nod_a")], [], request({ count: 8 }));
  assert.equal(r.placements.length, 6);
  assert.equal(r.blocked?.reason, "no_capacity_memory");
  assert.equal(r.blocked?.facts.placed, 6);
  assert.equal(r.blocked?.facts.requested, 8);
});

test("no_nodes_active: offline, draining, stale, unhealthy and empty nodes, each with its facts", () => {
  const nodes = [
    node("nod_a", { state: "offline" }),
    node("nod_b", { last_heartbeat_at: NOW - 45_000 }),
    node("nod_c", { healthy: false }),
    node("nod_d", { allocatable: { cpu_cores: 0, memory_bytes: 0 } }),
    node("nod_e", { state: "degraded" }),
    node("nod_f", { last_heartbeat_at: null }),
    node("nod_g", { roles: ["edge"] }),
  ];
  const r = place(nodes);
  assert.equal(r.blocked?.reason, "no_nodes_active");
  assert.deepEqual(
    r.blocked?.facts.nodes.map((v) => v.rejection),
    [
      { reason: "state_not_active", state: "offline" },
      { reason: "heartbeat_stale", age_ms: 45_000, timeout_ms: 45_000 },
      { reason: "unhealthy" },
      { reason: "no_allocatable", cpu_cores: 0, memory_bytes: 0 },
      { reason: "state_not_active", state: "degraded" },
      { reason: "heartbeat_stale", age_ms: null, timeout_ms: 45_000 },
      { reason: "role_not_worker", roles: ["edge"] },
    ],
  );
  assert.equal(place([]).blocked?.reason, "no_nodes_active");
  // The operator override admits degraded nodes.
  const degraded = placeGroup(
    [node("nod_e", { state: "degraded" })],
    [],
    request(),
    emptyIpam(),
    { ...SETTINGS, allow_degraded: true },
    NOW,
  );
  assert.equal(degraded.placements[0]?.node_id, "nod_e");
});

test("no_matching_arch, and the vote: most nodes win, non-workers do not vote", () => {
  const arm = (id: string) => node(id, { arch: "arm64" });
  const r = place([arm("nod_a"), arm("nod_b"), node("nod_c", { state: "offline" })]);
  assert.equal(r.blocked?.reason, "no_matching_arch");
  assert.deepEqual(r.blocked?.facts.nodes[0]?.rejection, {
    reason: "arch_mismatch",
    node_arch: "arm64",
    wanted: ["amd64"],
  });
  const full = node("nod_z", { allocatable: { cpu_cores: 4, memory_bytes: 512 * MiB } });
  const edges = ["nod_1", "nod_2", "nod_3"].map((id) => node(id, { roles: ["edge"] }));
  assert.equal(place([...edges, full]).blocked?.reason, "no_capacity_memory");
  // A tie goes to the more specific reason.
  assert.equal(place([arm("nod_a"), full]).blocked?.reason, "no_capacity_memory");
});

test("volume-backed groups land only on the home node (compliance 38)", () => {
  const req = request({ volumes: [vol("vol_1", "nod_b")] });
  const r = place([node("nod_a"), node("nod_b"), node("nod_c")], [], req);
  assert.deepEqual(
    r.placements.map((p) => p.node_id),
    ["nod_b"],
  );
});

test("volume_locality_no_node: the home node cannot take it, facts name only that node", () => {
  const req = request({ volumes: [vol("vol_1", "nod_b")], memory_limit_bytes: 8 * GiB });
  const r = place([node("nod_a"), node("nod_b")], [], req);
  assert.equal(r.blocked?.reason, "volume_locality_no_node");
  assert.deepEqual(
    r.blocked?.facts.nodes.map((v) => [v.node_id, v.rejection.reason]),
    [["nod_b", "memory"]],
  );
  const draining = place(
    [node("nod_a"), node("nod_b", { state: "draining" })],
    [],
    request({ volumes: [vol("vol_1", "nod_b")] }),
  );
  assert.equal(draining.blocked?.reason, "volume_locality_no_node");
});

test("volume_home_node_offline: offline, disabled, stale or gone home node", () => {
  const req = request({ volumes: [vol("vol_1", "nod_b")] });
  for (const b of [
    node("nod_b", { state: "offline" }),
    node("nod_b", { state: "disabled" }),
    node("nod_b", { last_heartbeat_at: NOW - 60_000 }),
  ]) {
    const r = place([node("nod_a"), b], [], req);
    assert.equal(r.blocked?.reason, "volume_home_node_offline", JSON.stringify(b));
    assert.equal(r.placements.length, 0);
  }
  assert.equal(place([node("nod_a")], [], req).blocked?.reason, "volume_home_node_offline");
  const viewSaysOffline = request({ volumes: [vol("vol_1", "nod_b", { home_node_state: "offline" })] });
  assert.equal(place([node("nod_b")], [], viewSaysOffline).blocked?.reason, "volume_home_node_offline");
});

test("volume_constraints_invalid: volumes with different homes", () => {
  const req = request({ volumes: [vol("vol_2", "nod_b"), vol("vol_1", "nod_a")] });
  const r = place([node("nod_a"), node("nod_b")], [], req);
  assert.equal(r.blocked?.reason, "volume_constraints_invalid");
  assert.deepEqual(
    r.blocked?.facts.volumes?.map((v) => v.volume_id),
    ["vol_1", "vol_2"],
  );
});

test("volume_in_use: one non-draining holder per volume, also within one call", () => {
  const req = request({ volumes: [vol("vol_1", "nod_b")] });
  const holder = instance("nod_b", { volume_ids: ["vol_1"], instance_id: "ins_holder" });
  const r = place([node("nod_b")], [holder], req);
  assert.equal(r.blocked?.reason, "volume_in_use");
  assert.deepEqual(r.blocked?.facts.in_use, {
    volume_id: "vol_1",
    instance_id: "ins_holder",
    node_id: "nod_b",
  });
  // A draining or stopped holder releases the volume (memory permitting).
  for (const h of [
    { ...holder, desired_state: "draining" as const },
    { ...holder, status: "stopped" as const },
  ]) {
    assert.equal(place([node("nod_b")], [h], req).placements.length, 1);
  }
  const two = place([node("nod_b")], [], { ...req, count: 2 });
  assert.equal(two.placements.length, 1);
  assert.equal(two.blocked?.reason, "volume_in_use");
  assert.equal(two.blocked?.facts.in_use?.instance_id, null);
});

test("ipam_exhausted: placements that got an address stand, the rest are blocked", () => {
  const ipam = emptyIpam({ max_suffix: 4, used: new Set(["fd70:6c66:0:1::2"]) });
  const r = place([node("nod_a"), node("nod_b")], [], request({ count: 5 }), ipam);
  assert.deepEqual(
    r.placements.map((p) => p.overlay_ipv6),
    ["fd70:6c66:0:1::1", "fd70:6c66:0:1::3", "fd70:6c66:0:1::4"],
  );
  assert.equal(r.blocked?.reason, "ipam_exhausted");
  assert.deepEqual(r.blocked?.facts.ipam, { max_suffix: 4, used: 1, cooling: 0 });
  assert.equal(r.blocked?.facts.placed, 3);
});

test("count 0 places nothing and blocks nothing", () => {
  assert.deepEqual(place([], [], request({ count: 0 })), { placements: [], next_hint: 1 });
});
