// npm run bench:scheduler — the scheduler's figures (issue 4). Prints one
// JSON line on stdout and a table on stderr.
//
// plan_placements_per_s: the pure placement core placing 10,000 instances
// (100 groups × 100 replicas, mixed sizes) onto 1,000 heterogeneous nodes,
// one placeGroup call per group as the reconciler makes them, each call
// seeing the instances the earlier calls placed. Best of a few rounds, since
// these machines are shared. Target ≥ 50,000/s.
//
// e2e_allocations_per_s, server_peak_rss_mb: a real server scaling one env
// from 0 to 2,000 instances on 200 enrolled nodes (bench/scheduler/e2e.ts).
// Targets ≥ 2,000/s and ≤ 400 MB.
import {
  DEFAULT_SETTINGS,
  type IpamState,
  type LiveInstance,
  type NodeFacts,
  type PlacementRequest,
  placeGroup,
} from "../packages/control-plane/src/scheduler/placement/index.ts";
import { benchServer, report, round } from "./lib.ts";
import { benchE2e } from "./scheduler/e2e.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const NOW = Date.now();
const NODES = 1000;
const GROUPS = 100;
const REPLICAS = 100;
const ROUNDS = Number(process.env.PLFM_BENCH_ROUNDS ?? 5);

/** A deterministic PRNG so every run places the same workload. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function cluster(): NodeFacts[] {
  const r = rng(1);
  const shapes = [
    { cpu_cores: 4, memory_bytes: 16 * GiB },
    { cpu_cores: 8, memory_bytes: 32 * GiB },
    { cpu_cores: 16, memory_bytes: 64 * GiB },
    { cpu_cores: 32, memory_bytes: 128 * GiB },
  ];
  return Array.from({ length: NODES }, (_, i) => {
    const shape = shapes[Math.floor(r() * shapes.length)] ?? shapes[0];
    // A few nodes are ineligible, as in a real fleet: edges, draining, stale.
    const roll = r();
    return {
      node_id: `nod_${String(i).padStart(5, "0")}`,
      state: roll < 0.02 ? "draining" : "active",
      roles: roll > 0.98 ? ["edge"] : ["worker"],
      arch: r() < 0.2 ? "arm64" : "amd64",
      allocatable: shape as { cpu_cores: number; memory_bytes: number },
      reserved_memory_bytes: 1 * GiB,
      last_heartbeat_at: roll > 0.03 && roll < 0.04 ? NOW - 60_000 : NOW - 2_000,
      recent_boot_failures: r() < 0.05 ? 1 : 0,
      healthy: true,
    } satisfies NodeFacts;
  });
}

function workload(): PlacementRequest[] {
  const r = rng(2);
  const sizes = [128, 256, 512, 1024, 2048].map((m) => m * MiB);
  return Array.from({ length: GROUPS }, (_, g) => ({
    group: { env_id: `env_${String(g).padStart(3, "0")}`, process_type: g % 3 === 0 ? "worker" : "web" },
    count: REPLICAS,
    memory_limit_bytes: sizes[Math.floor(r() * sizes.length)] ?? 256 * MiB,
    cpu_request: [0.25, 0.5, 1, 2][Math.floor(r() * 4)] ?? 0.5,
    archs: g % 10 === 0 ? ["amd64"] : ["amd64", "arm64"],
    volumes: [],
  }));
}

function planRound(nodes: NodeFacts[], requests: PlacementRequest[]) {
  const live: LiveInstance[] = [];
  const used = new Set<string>();
  let next_hint = 1;
  let placed = 0;
  let blocked = 0;
  const t0 = performance.now();
  for (const req of requests) {
    const ipam: IpamState = { used, cooling: new Map(), next_hint };
    const res = placeGroup(nodes, live, req, ipam, DEFAULT_SETTINGS, NOW);
    next_hint = res.next_hint;
    if (res.blocked) blocked++;
    for (const p of res.placements) {
      // What the reconciler would read back from the views on its next call.
      used.add(p.overlay_ipv6);
      live.push({
        instance_id: `ins_${placed++}`,
        node_id: p.node_id,
        group: req.group,
        memory_limit_bytes: req.memory_limit_bytes,
        cpu_request: req.cpu_request,
        volume_ids: [],
        overlay_ipv6: p.overlay_ipv6,
        desired_state: "running",
        status: "allocated",
      });
    }
  }
  return { ms: performance.now() - t0, placed, blocked };
}

const nodes = cluster();
const requests = workload();
let best = Number.POSITIVE_INFINITY;
let last = { ms: 0, placed: 0, blocked: 0 };
for (let i = 0; i < ROUNDS; i++) {
  last = planRound(nodes, requests);
  best = Math.min(best, last.ms);
}
if (last.placed !== GROUPS * REPLICAS) throw new Error(`placed ${last.placed} of ${GROUPS * REPLICAS}`);

const server = await benchServer();
let e2e: Awaited<ReturnType<typeof benchE2e>>;
try {
  e2e = await benchE2e(server.url);
} finally {
  await server.stop();
}

report({
  plan_nodes: NODES,
  plan_instances: last.placed,
  plan_best_ms: round(best, 1),
  plan_placements_per_s: round(last.placed / (best / 1000), 0),
  // Targets: e2e_allocations_per_s ≥ 2,000; server_peak_rss_mb ≤ 400.
  ...e2e,
});
