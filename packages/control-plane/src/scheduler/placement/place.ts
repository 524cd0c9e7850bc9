// The scheduler's pure placement core (spec platform.md §6.2, compliance
// 36–38, 46). No I/O and no clock: the reconciler passes facts read from the
// views and `now`, and commits what comes back.
//
// Per call: sort nodes by node_id (skipped when already sorted), fold live
// instances into per-node usage once (O(instances)), drop nodes failing the
// static rules once (O(nodes)), then per placement scan the remaining
// candidates (O(candidates)): 10,000 placements on 1,000 nodes is ~10^7 cheap
// steps, never O(nodes × instances).
//
// Score (higher wins; ties → smallest node_id, compliance 37):
//   cpu_score − SPREAD_WEIGHT × group replicas on the node
//             − BOOT_FAILURE_WEIGHT × recent boot failures
// cpu_score ∈ [0, 1], so with SPREAD_WEIGHT = 1 one more replica of the group
// outweighs any CPU headroom: replicas spread first, then go where CPU is
// free. Two recent boot failures cost as much as one extra replica.
//
// Address exhaustion: each placement takes its /128 last (§6.2 (4)); when the
// pool runs dry the call stops with ipam_exhausted. Placements that already
// got an address stand (each is a whole instance); the rest are reported
// blocked, never returned without an address.
import { chooseReason } from "./blocking.ts";
import { memoryCapacity, memoryNeeded, memoryRejection, staticRejection } from "./eligibility.ts";
import { coolingCount, createAllocator, MAX_INSTANCE_SUFFIX } from "./ipam.ts";
import type {
  Blocked,
  IpamState,
  LiveInstance,
  NodeFacts,
  NodeVerdict,
  Placement,
  PlacementRequest,
  PlacementResult,
  Settings,
} from "./types.ts";
import { nodeUsage, toMillis } from "./usage.ts";
import { checkVolumes, cmp } from "./volumes.ts";

export const SPREAD_WEIGHT = 1;
export const BOOT_FAILURE_WEIGHT = 0.5;

/** Candidates as parallel arrays: the inner loop touches only numbers. */
interface Candidates {
  nodes: NodeFacts[];
  committed: Float64Array;
  capacity: Float64Array;
  cpuMillis: Float64Array;
  cpuLimitMillis: Float64Array;
  replicas: Float64Array;
  bootFailures: Float64Array;
  /** Each candidate's current score; only the chosen node's changes after a placement. */
  score: Float64Array;
}

/** Place `request.count` instances of one group; see the header for the rules. */
export function placeGroup(
  nodes: readonly NodeFacts[],
  live: readonly LiveInstance[],
  request: PlacementRequest,
  ipam: IpamState,
  settings: Settings,
  now: number,
): PlacementResult {
  const startHint = ipam.next_hint ?? 1;
  if (request.count <= 0) return { placements: [], next_hint: startHint };
  const sorted = sortedById(nodes);
  const byId = new Map(sorted.map((n) => [n.node_id, n]));
  const volume = checkVolumes(byId, live, request, settings, now);
  if (volume.blocked) return { placements: [], next_hint: startHint, blocked: volume.blocked };

  const pool = volume.home ? [volume.home] : sorted;
  const usage = nodeUsage(live, settings, request.group);
  const rejected: NodeVerdict[] = [];
  const c = candidates(pool, request, settings, now, usage, rejected);
  const needed = memoryNeeded(request, settings);
  const cpu = toMillis(request.cpu_request);
  const alloc = createAllocator(ipam, now);
  const placements: Placement[] = [];

  for (let k = 0; k < request.count; k++) {
    if (volume.home && k > 0) {
      // One non-draining instance per volume (§6.2 (3)): the one just placed holds it.
      const volume_id = request.volumes.map((v) => v.volume_id).sort(cmp)[0] ?? "";
      const in_use = { volume_id, instance_id: null, node_id: volume.home.node_id };
      const detail = `volume ${in_use.volume_id} is taken by the instance placed first in this call`;
      const facts = { requested: request.count, placed: k, nodes: [], in_use };
      return done(placements, alloc.hint(), { reason: "volume_in_use", detail, facts });
    }
    const best = pick(c, needed);
    if (best < 0) return done(placements, alloc.hint(), noNode(c, rejected, request, needed, k, volume.home));
    const address = alloc.next();
    if (address === null) return done(placements, alloc.hint(), exhausted(ipam, now, request, k));
    const node = c.nodes[best] as NodeFacts;
    placements.push({ node_id: node.node_id, overlay_ipv6: address });
    (c.committed[best] as number) += needed;
    (c.cpuMillis[best] as number) += cpu;
    (c.replicas[best] as number) += 1;
    c.score[best] = score(c, best);
  }
  return done(placements, alloc.hint());
}

function sortedById(nodes: readonly NodeFacts[]): NodeFacts[] {
  for (let i = 1; i < nodes.length; i++) {
    if (cmp((nodes[i - 1] as NodeFacts).node_id, (nodes[i] as NodeFacts).node_id) >= 0) {
      return [...nodes].sort((a, b) => cmp(a.node_id, b.node_id));
    }
  }
  return [...nodes];
}

function candidates(
  pool: readonly NodeFacts[],
  request: PlacementRequest,
  settings: Settings,
  now: number,
  usage: ReturnType<typeof nodeUsage>,
  rejected: NodeVerdict[],
): Candidates {
  const ok = pool.filter((node) => {
    const rejection = staticRejection(node, request, settings, now);
    if (rejection) rejected.push({ node_id: node.node_id, rejection });
    return rejection === null;
  });
  const c: Candidates = {
    nodes: ok,
    committed: new Float64Array(ok.length),
    capacity: new Float64Array(ok.length),
    cpuMillis: new Float64Array(ok.length),
    cpuLimitMillis: new Float64Array(ok.length),
    replicas: new Float64Array(ok.length),
    bootFailures: new Float64Array(ok.length),
    score: new Float64Array(ok.length),
  };
  ok.forEach((node, i) => {
    const u = usage.get(node.node_id);
    c.committed[i] = u?.committed_bytes ?? 0;
    c.capacity[i] = memoryCapacity(node);
    c.cpuMillis[i] = u?.cpu_millis ?? 0;
    c.cpuLimitMillis[i] = toMillis(node.allocatable.cpu_cores) * settings.cpu_overcommit_ratio;
    c.replicas[i] = u?.group_replicas ?? 0;
    c.bootFailures[i] = Math.max(0, node.recent_boot_failures);
    c.score[i] = score(c, i);
  });
  return c;
}

/** The header's formula for candidate `i`. */
function score(c: Candidates, i: number): number {
  const cpuScore = 1 - Math.min(1, (c.cpuMillis[i] as number) / (c.cpuLimitMillis[i] as number));
  return (
    cpuScore - SPREAD_WEIGHT * (c.replicas[i] as number) - BOOT_FAILURE_WEIGHT * (c.bootFailures[i] as number)
  );
}

/** Index of the best candidate with room for `needed`, -1 when none; strict `>` keeps the smallest id. */
function pick(c: Candidates, needed: number): number {
  let best = -1;
  let bestScore = Number.NEGATIVE_INFINITY;
  const n = c.nodes.length;
  const { committed, capacity, score } = c;
  for (let i = 0; i < n; i++) {
    const s = score[i] as number;
    if (s > bestScore && (committed[i] as number) + needed <= (capacity[i] as number)) {
      best = i;
      bestScore = s;
    }
  }
  return best;
}

function noNode(
  c: Candidates,
  rejected: readonly NodeVerdict[],
  request: PlacementRequest,
  needed: number,
  placed: number,
  home: NodeFacts | null,
): Blocked {
  const verdicts = [...rejected];
  c.nodes.forEach((node, i) => {
    const rejection = memoryRejection(c.committed[i] as number, needed, c.capacity[i] as number);
    if (rejection) verdicts.push({ node_id: node.node_id, rejection });
  });
  verdicts.sort((a, b) => cmp(a.node_id, b.node_id));
  const facts = { requested: request.count, placed, nodes: verdicts };
  if (home) {
    const why = verdicts[0] ? `: ${verdicts[0].rejection.reason}` : "";
    return {
      reason: "volume_locality_no_node",
      detail: `home node ${home.node_id} cannot take it${why}`,
      facts,
    };
  }
  return { ...chooseReason(verdicts, needed), facts };
}

function exhausted(ipam: IpamState, now: number, request: PlacementRequest, placed: number): Blocked {
  const max_suffix = ipam.max_suffix ?? MAX_INSTANCE_SUFFIX;
  const facts = {
    requested: request.count,
    placed,
    nodes: [],
    ipam: { max_suffix, used: ipam.used.size, cooling: coolingCount(ipam, now) },
  };
  const detail = `no free instance address: ${facts.ipam.used} used, ${facts.ipam.cooling} cooling of ${max_suffix}`;
  return { reason: "ipam_exhausted", detail, facts };
}

function done(placements: Placement[], next_hint: number, blocked?: Blocked): PlacementResult {
  return blocked ? { placements, next_hint, blocked } : { placements, next_hint };
}
