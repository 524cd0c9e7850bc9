// What live instances hold on each node. One pass over the instances per
// placement call (O(instances)), so the per-placement work stays O(nodes).
import type { GroupKey, LiveInstance, Settings } from "./types.ts";

/**
 * Counts against the node's memory (§6.2 (1)): desired_state ≠ stopped and
 * status not stopped/failed. Draining instances still hold their memory
 * until the agent reports them stopped.
 */
export function holdsMemory(i: LiveInstance): boolean {
  return i.desired_state !== "stopped" && i.status !== "stopped" && i.status !== "failed";
}

/** Holds its volumes exclusively (§6.2 (3)): non-stopped and non-draining. */
export function holdsVolume(i: LiveInstance): boolean {
  return holdsMemory(i) && i.desired_state !== "draining" && i.status !== "draining";
}

export interface NodeUsage {
  /** Σ(memory_limit + overhead) of instances that hold memory. */
  committed_bytes: number;
  /**
   * Σ cpu_request in integer millicores: integer sums do not depend on the
   * order the instances came in, float sums can (compliance 37).
   */
  cpu_millis: number;
  /** Replicas of the group being placed that will stay (hold memory, not draining). */
  group_replicas: number;
}

export const toMillis = (cores: number): number => Math.round(cores * 1000);

const sameGroup = (a: GroupKey, b: GroupKey): boolean =>
  a.env_id === b.env_id && a.process_type === b.process_type;

/** Per-node usage; `group` (optional) selects whose replicas are counted. */
export function nodeUsage(
  live: readonly LiveInstance[],
  settings: Settings,
  group?: GroupKey,
): Map<string, NodeUsage> {
  const out = new Map<string, NodeUsage>();
  for (const i of live) {
    if (!holdsMemory(i)) continue;
    let u = out.get(i.node_id);
    if (!u) {
      u = { committed_bytes: 0, cpu_millis: 0, group_replicas: 0 };
      out.set(i.node_id, u);
    }
    u.committed_bytes += i.memory_limit_bytes + settings.overhead_bytes;
    u.cpu_millis += toMillis(i.cpu_request);
    if (group && holdsVolume(i) && sameGroup(i.group, group)) u.group_replicas++;
  }
  return out;
}
