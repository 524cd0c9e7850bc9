// Builders and fast-check arbitraries for the placement tests.
import fc from "fast-check";
import type { NodeState } from "../../fleet/node.ts";
import type { IpamState, LiveInstance, NodeFacts, PlacementRequest, Settings } from "./types.ts";
import { DEFAULT_SETTINGS } from "./types.ts";

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const NOW = 1_800_000_000_000;
export const SETTINGS: Settings = DEFAULT_SETTINGS;
export const GROUP = { env_id: "env_a", process_type: "web" };

export function node(node_id: string, over: Partial<NodeFacts> = {}): NodeFacts {
  return {
    node_id,
    state: "active",
    roles: ["worker"],
    arch: "amd64",
    allocatable: { cpu_cores: 4, memory_bytes: 4 * GiB },
    reserved_memory_bytes: 256 * MiB,
    last_heartbeat_at: NOW - 1000,
    recent_boot_failures: 0,
    healthy: true,
    ...over,
  };
}

let seq = 0;
export function instance(node_id: string, over: Partial<LiveInstance> = {}): LiveInstance {
  seq++;
  return {
    instance_id: `ins_${String(seq).padStart(6, "0")}`,
    node_id,
    group: GROUP,
    memory_limit_bytes: 512 * MiB,
    cpu_request: 0.5,
    volume_ids: [],
    overlay_ipv6: `fd70:6c66:0:1::ffff:${seq.toString(16)}`,
    desired_state: "running",
    status: "ready",
    ...over,
  };
}

export function request(over: Partial<PlacementRequest> = {}): PlacementRequest {
  return {
    group: GROUP,
    count: 1,
    memory_limit_bytes: 512 * MiB,
    cpu_request: 0.5,
    archs: ["amd64"],
    volumes: [],
    ...over,
  };
}

export const emptyIpam = (over: Partial<IpamState> = {}): IpamState => ({
  used: new Set(),
  cooling: new Map(),
  ...over,
});

/** Seeded Fisher–Yates, so a property can reorder its input reproducibly. */
export function shuffle<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const STATES: NodeState[] = ["active", "active", "active", "degraded", "draining", "offline"];

/** Nodes mostly eligible, sometimes not for every reason; memory in 256 MiB steps so fits are tight. */
export const nodeArb = (id: string): fc.Arbitrary<NodeFacts> =>
  fc
    .record({
      state: fc.constantFrom(...STATES),
      worker: fc.nat(9),
      arch: fc.constantFrom("amd64", "amd64", "arm64"),
      cores: fc.constantFrom(0, 1, 2, 4, 8),
      memSteps: fc.integer({ min: 0, max: 24 }),
      reservedSteps: fc.integer({ min: 0, max: 4 }),
      hbAge: fc.constantFrom(0, 1000, 44_999, 45_000, null),
      boot: fc.nat(3),
      healthy: fc.nat(9),
    })
    .map((r) =>
      node(id, {
        state: r.state,
        roles: r.worker === 0 ? ["edge"] : ["worker"],
        arch: r.arch,
        allocatable: { cpu_cores: r.cores, memory_bytes: r.memSteps * 256 * MiB },
        reserved_memory_bytes: r.reservedSteps * 256 * MiB,
        last_heartbeat_at: r.hbAge === null ? null : NOW - r.hbAge,
        recent_boot_failures: r.boot,
        healthy: r.healthy !== 0,
      }),
    );

/** A cluster: `n` nodes with ids drawn so they do not sort like their index. */
export const clusterArb = (min: number, max: number): fc.Arbitrary<NodeFacts[]> =>
  fc
    .uniqueArray(fc.stringMatching(/^nod_[0-9a-z]{3}$/), { minLength: min, maxLength: max })
    .chain((ids) => fc.tuple(...ids.map(nodeArb)));

/** Live instances on the cluster's nodes, in every desired_state/status mix. */
export const liveArb = (nodes: readonly NodeFacts[], max: number): fc.Arbitrary<LiveInstance[]> =>
  nodes.length === 0
    ? fc.constant([])
    : fc
        .array(
          fc.record({
            node: fc.constantFrom(...nodes.map((n) => n.node_id)),
            group: fc.constantFrom(GROUP, { env_id: "env_b", process_type: "web" }),
            memSteps: fc.integer({ min: 1, max: 8 }),
            cpu: fc.constantFrom(0.1, 0.25, 0.5, 1, 2),
            desired: fc.constantFrom("running", "running", "draining", "stopped" as const),
            status: fc.constantFrom("ready", "ready", "booting", "draining", "stopped", "failed" as const),
          }),
          { maxLength: max },
        )
        .map((rs) =>
          rs.map((r) =>
            instance(r.node, {
              group: r.group,
              memory_limit_bytes: r.memSteps * 128 * MiB,
              cpu_request: r.cpu,
              desired_state: r.desired as LiveInstance["desired_state"],
              status: r.status as LiveInstance["status"],
            }),
          ),
        );

/** Σ(memory_limit + overhead) of memory-holding instances per node, written out from the spec text. */
export function committedPerNode(live: readonly LiveInstance[], settings: Settings): Map<string, number> {
  const out = new Map<string, number>();
  for (const i of live) {
    const holds = i.desired_state !== "stopped" && i.status !== "stopped" && i.status !== "failed";
    if (holds) out.set(i.node_id, (out.get(i.node_id) ?? 0) + i.memory_limit_bytes + settings.overhead_bytes);
  }
  return out;
}
