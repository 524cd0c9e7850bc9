// Inputs and outputs of the pure placement core (spec platform.md §6.1, §6.2,
// §8.1). Everything here is plain data the reconciler reads from the views;
// times are epoch milliseconds passed in, never read from a clock, so the
// same input always gives the same output (compliance 37).
import type { DesiredState, InstanceStatus } from "../../apps/instance.ts";
import type { NodeState } from "../../fleet/node.ts";

/** What the scheduler knows about one node, as read from the `nodes` view. */
export interface NodeFacts {
  node_id: string;
  state: NodeState;
  roles: readonly string[];
  /** The node's `arch` label, e.g. "amd64". */
  arch: string;
  allocatable: { cpu_cores: number; memory_bytes: number };
  /** reserved_host_memory_bytes (§6.1): never given to instances. */
  reserved_memory_bytes: number;
  /** Epoch ms of the last heartbeat, null when none was ever received. */
  last_heartbeat_at: number | null;
  /** Boot failures on this node in the reconciler's recent window (a soft penalty). */
  recent_boot_failures: number;
  /** Runtime and overlay both healthy, as the last heartbeat reported. */
  healthy: boolean;
}

/** A scheduling group: one process type of one env (§6.3). */
export interface GroupKey {
  env_id: string;
  process_type: string;
}

/** An instance row from the `instances` view, whatever its state. */
export interface LiveInstance {
  instance_id: string;
  node_id: string;
  group: GroupKey;
  memory_limit_bytes: number;
  /** CPU cores requested (may be fractional, e.g. 0.25). */
  cpu_request: number;
  volume_ids: readonly string[];
  overlay_ipv6: string;
  desired_state: DesiredState;
  status: InstanceStatus;
}

/** A volume the group mounts, with its home node (§10.1). */
export interface VolumeFact {
  volume_id: string;
  home_node_id: string;
  /** The home node's state in the `nodes` view (undefined when the node is gone). */
  home_node_state: NodeState | undefined;
}

/** "Place `count` more instances of this group." */
export interface PlacementRequest {
  group: GroupKey;
  count: number;
  memory_limit_bytes: number;
  cpu_request: number;
  /** Architectures the release has digests for (its resolved_digests). */
  archs: readonly string[];
  volumes: readonly VolumeFact[];
}

/** Scheduler settings (§6.1, §6.2). */
export interface Settings {
  cpu_overcommit_ratio: number;
  /** vmm_overhead_bytes_per_instance, counted against memory like the limit itself. */
  overhead_bytes: number;
  heartbeat_timeout_ms: number;
  /** Operator override: degraded nodes take placements too (§6.2). */
  allow_degraded: boolean;
}

export const DEFAULT_SETTINGS: Settings = {
  cpu_overcommit_ratio: 4.0,
  overhead_bytes: 64 * 1024 * 1024,
  heartbeat_timeout_ms: 45_000,
  allow_degraded: false,
};

/** The instance address pool (§8.1), as read from `ipam_instances`. */
export interface IpamState {
  /** Addresses of live (not released) instances. */
  used: ReadonlySet<string>;
  /** Released addresses → released_at (epoch ms); unusable for 24 h after. */
  cooling: ReadonlyMap<string, number>;
  /** Suffix to start searching from (the previous call's `next_hint`); 1 when absent. */
  next_hint?: number;
  /** Highest suffix handed out. Defaults to 2^53 − 1 (see ipam.ts); tests lower it. */
  max_suffix?: number;
}

/** Why one node cannot take the instance, with the facts `why` prints. */
export type NodeRejection =
  | { reason: "role_not_worker"; roles: string[] }
  | { reason: "state_not_active"; state: NodeState }
  | { reason: "heartbeat_stale"; age_ms: number | null; timeout_ms: number }
  | { reason: "unhealthy" }
  | { reason: "no_allocatable"; cpu_cores: number; memory_bytes: number }
  | { reason: "arch_mismatch"; node_arch: string; wanted: string[] }
  | {
      reason: "memory";
      /** Σ(memory_limit + overhead) of the node's non-stopped instances, this call's included. */
      committed_bytes: number;
      /** memory_limit + overhead of the new instance. */
      needed_bytes: number;
      /** allocatable − reserved. */
      capacity_bytes: number;
    };

export interface NodeVerdict {
  node_id: string;
  rejection: NodeRejection;
}

/** The §6.2 reasons this core decides (secrets_missing and org_quota_exceeded are the reconciler's). */
export type BlockingReason =
  | "no_capacity_memory"
  | "volume_locality_no_node"
  | "no_nodes_active"
  | "no_matching_arch"
  | "ipam_exhausted"
  | "volume_in_use"
  | "volume_constraints_invalid"
  | "volume_home_node_offline";

export interface BlockedFacts {
  requested: number;
  placed: number;
  /** Per-node rejections, sorted by node_id (only the home node for a volume-backed group). */
  nodes: NodeVerdict[];
  volumes?: { volume_id: string; home_node_id: string; home_node_state: NodeState | null }[];
  /** For volume_in_use: who holds the volume (instance_id null: placed earlier in this call). */
  in_use?: { volume_id: string; instance_id: string | null; node_id: string };
  /** For ipam_exhausted: the pool's size and how many addresses were unavailable. */
  ipam?: { max_suffix: number; used: number; cooling: number };
}

export interface Blocked {
  reason: BlockingReason;
  detail: string;
  facts: BlockedFacts;
}

export interface Placement {
  node_id: string;
  overlay_ipv6: string;
}

export interface PlacementResult {
  placements: Placement[];
  /** Pass back as IpamState.next_hint so the next call does not rescan used suffixes. */
  next_hint: number;
  blocked?: Blocked;
}
