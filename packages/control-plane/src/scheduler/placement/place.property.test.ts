// Property tests of the placement core over thousands of random clusters
// (issue 4 acceptance; compliance 36, 37, 38, 46). The oracles below are
// written from the spec text, not from the code under test.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { IPAM_COOLDOWN_MS, instanceOverlayAddress } from "./ipam.ts";
import { placeGroup } from "./place.ts";
import {
  clusterArb,
  committedPerNode,
  emptyIpam,
  GROUP,
  instance,
  liveArb,
  MiB,
  NOW,
  node,
  request,
  SETTINGS,
  shuffle,
} from "./test-kit.ts";
import type { LiveInstance, NodeFacts, PlacementRequest } from "./types.ts";

const capacity = (n: NodeFacts) => n.allocatable.memory_bytes - n.reserved_memory_bytes;

/** §6.2 eligibility, straight from the spec's list. */
const eligible = (n: NodeFacts, archs: readonly string[]) =>
  n.roles.includes("worker") &&
  n.state === "active" &&
  n.last_heartbeat_at !== null &&
  NOW - n.last_heartbeat_at < 45_000 &&
  n.healthy &&
  n.allocatable.cpu_cores > 0 &&
  n.allocatable.memory_bytes > 0 &&
  archs.includes(n.arch);

const requestArb = fc.record({
  count: fc.integer({ min: 1, max: 4 }),
  memSteps: fc.integer({ min: 1, max: 8 }),
  cpu: fc.constantFrom(0.1, 0.5, 1, 2),
  archs: fc.constantFrom(["amd64"], ["arm64"], ["amd64", "arm64"]),
});
const toRequest = (r: { count: number; memSteps: number; cpu: number; archs: readonly string[] }) =>
  request({ count: r.count, memory_limit_bytes: r.memSteps * 128 * MiB, cpu_request: r.cpu, archs: r.archs });

const caseArb = (maxNodes: number, maxLive: number) =>
  clusterArb(0, maxNodes).chain((nodes) =>
    fc.record({ nodes: fc.constant(nodes), live: liveArb(nodes, maxLive), req: requestArb, seed: fc.nat() }),
  );

const asLive = (
  placements: { node_id: string; overlay_ipv6: string }[],
  req: PlacementRequest,
): LiveInstance[] =>
  placements.map((p) =>
    instance(p.node_id, {
      group: req.group,
      memory_limit_bytes: req.memory_limit_bytes,
      cpu_request: req.cpu_request,
      overlay_ipv6: p.overlay_ipv6,
      volume_ids: req.volumes.map((v) => v.volume_id),
      status: "allocated",
    }),
  );

test("memory is never oversubscribed: a node that gets an instance fits it with overhead and reserved (36)", () => {
  fc.assert(
    fc.property(caseArb(12, 30), ({ nodes, live, req }) => {
      const rq = toRequest(req);
      const r = placeGroup(nodes, live, rq, emptyIpam(), SETTINGS, NOW);
      const after = committedPerNode([...live, ...asLive(r.placements, rq)], SETTINGS);
      for (const n of nodes) {
        if (!r.placements.some((p) => p.node_id === n.node_id)) continue;
        assert.ok(eligible(n, rq.archs), `placed on ineligible ${n.node_id}`);
        assert.ok((after.get(n.node_id) ?? 0) <= capacity(n), `oversubscribed ${n.node_id}`);
      }
      if (r.placements.length < rq.count) assert.ok(r.blocked, "short without a blocking reason");
      else assert.equal(r.blocked, undefined);
    }),
    { numRuns: 3000 },
  );
});

test("a sequence of groups onto one cluster never oversubscribes and never repeats an address (36, 46)", () => {
  const groups = fc.array(fc.tuple(requestArb, fc.constantFrom("web", "worker", "api")), {
    minLength: 1,
    maxLength: 12,
  });
  fc.assert(
    fc.property(clusterArb(1, 10), groups, (nodes, reqs) => {
      let live: LiveInstance[] = [];
      let hint: number | undefined;
      reqs.forEach(([r, pt], k) => {
        const rq = { ...toRequest(r), group: { env_id: `env_${k % 3}`, process_type: pt } };
        const used = new Set(live.map((i) => i.overlay_ipv6));
        const ipam = hint === undefined ? emptyIpam({ used }) : emptyIpam({ used, next_hint: hint });
        const res = placeGroup(nodes, live, rq, ipam, SETTINGS, NOW);
        hint = res.next_hint;
        live = [...live, ...asLive(res.placements, rq)];
      });
      const committed = committedPerNode(live, SETTINGS);
      for (const n of nodes) {
        const c = committed.get(n.node_id) ?? 0;
        assert.ok(c === 0 || c <= capacity(n), `oversubscribed ${n.node_id}`);
      }
      assert.equal(new Set(live.map((i) => i.overlay_ipv6)).size, live.length);
    }),
    { numRuns: 1000 },
  );
});

/** The most instances any assignment of `count` identical instances to eligible nodes can fit. */
function bruteForceMax(nodes: NodeFacts[], live: LiveInstance[], req: PlacementRequest): number {
  const committed = committedPerNode(live, SETTINGS);
  const need = req.memory_limit_bytes + SETTINGS.overhead_bytes;
  const slots = nodes.filter((n) => eligible(n, req.archs));
  let best = 0;
  // Each instance goes to one eligible node or stays unplaced (index = slots.length).
  const choice = new Array<number>(req.count).fill(0);
  const total = (slots.length + 1) ** req.count;
  for (let code = 0; code < total; code++) {
    let c = code;
    for (let k = 0; k < req.count; k++) {
      choice[k] = c % (slots.length + 1);
      c = Math.floor(c / (slots.length + 1));
    }
    const load = new Map<string, number>();
    let placed = 0;
    for (const idx of choice) {
      const n = slots[idx];
      if (!n) continue;
      placed++;
      load.set(n.node_id, (load.get(n.node_id) ?? 0) + need);
    }
    const fits = [...load].every(([id, add]) => {
      const n = slots.find((s) => s.node_id === id) as NodeFacts;
      return (committed.get(id) ?? 0) + add <= capacity(n);
    });
    if (fits) best = Math.max(best, placed);
  }
  return best;
}

test("small cases: placements found whenever brute force finds them, and exactly as many", () => {
  fc.assert(
    fc.property(caseArb(4, 4), ({ nodes, live, req }) => {
      const rq = toRequest(req);
      const r = placeGroup(nodes, live, rq, emptyIpam(), SETTINGS, NOW);
      assert.equal(r.placements.length, bruteForceMax(nodes, live, rq));
    }),
    { numRuns: 3000 },
  );
});

test("same input, same output, whatever the order of nodes and instances (37)", () => {
  fc.assert(
    fc.property(caseArb(10, 20), ({ nodes, live, req, seed }) => {
      const rq = toRequest(req);
      const a = placeGroup(nodes, live, rq, emptyIpam(), SETTINGS, NOW);
      const b = placeGroup(shuffle(nodes, seed), shuffle(live, seed + 1), rq, emptyIpam(), SETTINGS, NOW);
      assert.deepEqual(b, a);
      assert.deepEqual(placeGroup(nodes, live, rq, emptyIpam(), SETTINGS, NOW), a);
    }),
    { numRuns: 2000 },
  );
});

test("ties go to the smallest node_id (37)", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.stringMatching(/^nod_[0-9A-Z]{5}$/), { minLength: 1, maxLength: 30 }),
      fc.nat(),
      (ids, seed) => {
        const nodes = shuffle(
          ids.map((id) => node(id)),
          seed,
        );
        const r = placeGroup(nodes, [], request({ count: ids.length }), emptyIpam(), SETTINGS, NOW);
        const sorted = [...ids].sort((x, y) => (x < y ? -1 : 1));
        // Identical idle nodes: one replica each (spread), in node_id order.
        assert.deepEqual(
          r.placements.map((p) => p.node_id),
          sorted,
        );
      },
    ),
  );
});

test("volume-backed instances land only on the home node, and only when the volume is free (38)", () => {
  const volumeCase = caseArb(6, 8).chain((c) =>
    fc.record({
      c: fc.constant(c),
      homes: fc.array(fc.constantFrom("nod_zzz", ...c.nodes.map((n) => n.node_id)), {
        minLength: 1,
        maxLength: 2,
      }),
      holder: fc.boolean(),
    }),
  );
  fc.assert(
    fc.property(volumeCase, ({ c, homes, holder }) => {
      const volumes = homes.map((home, k) => ({
        volume_id: `vol_${k}`,
        home_node_id: home,
        home_node_state: c.nodes.find((n) => n.node_id === home)?.state,
      }));
      const rq = { ...toRequest(c.req), volumes };
      const live =
        holder && c.nodes[0] ? [...c.live, instance(c.nodes[0].node_id, { volume_ids: ["vol_0"] })] : c.live;
      const r = placeGroup(c.nodes, live, rq, emptyIpam(), SETTINGS, NOW);
      assert.ok(r.placements.length <= 1);
      for (const p of r.placements) for (const v of volumes) assert.equal(p.node_id, v.home_node_id);
      if (new Set(homes).size > 1) assert.equal(r.blocked?.reason, "volume_constraints_invalid");
      if (holder && r.placements.length > 0) assert.fail("placed while the volume is held");
    }),
    { numRuns: 2000 },
  );
});

test("no placed address is live or cooling, and none repeats (46)", () => {
  fc.assert(
    fc.property(
      caseArb(8, 10),
      fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { maxLength: 30 }),
      fc.array(fc.integer({ min: 0, max: 2 * IPAM_COOLDOWN_MS }), { maxLength: 30 }),
      ({ nodes, live, req }, suffixes, ages) => {
        const used = new Set<string>();
        const cooling = new Map<string, number>();
        suffixes.forEach((s, i) => {
          const age = ages[i];
          if (age === undefined) used.add(instanceOverlayAddress(s));
          else cooling.set(instanceOverlayAddress(s), NOW - age);
        });
        const rq = { ...toRequest(req), count: 8 };
        const r = placeGroup(nodes, live, rq, { used, cooling, max_suffix: 48 }, SETTINGS, NOW);
        const got = r.placements.map((p) => p.overlay_ipv6);
        assert.equal(new Set(got).size, got.length);
        for (const a of got) {
          assert.ok(!used.has(a));
          const rel = cooling.get(a);
          assert.ok(rel === undefined || NOW - rel >= IPAM_COOLDOWN_MS);
        }
        if (r.blocked?.reason === "ipam_exhausted") assert.equal(r.placements.length, r.blocked.facts.placed);
      },
    ),
    { numRuns: 1000 },
  );
});

test("GROUP is the default group of the builders", () => assert.equal(request().group, GROUP));
