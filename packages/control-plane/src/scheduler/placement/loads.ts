// Node memory load, the scale-down victim order's last real criterion (spec
// platform.md §6.3: "… most loaded node"). The order itself is the
// reconciler's (scheduler/reconcile/victims.ts); this computes its input
// from the same facts placement reads.
import { memoryCapacity } from "./eligibility.ts";
import type { LiveInstance, NodeFacts, Settings } from "./types.ts";
import { nodeUsage } from "./usage.ts";

/** Memory load per node in [0, ∞); nodes without capacity count as fully loaded. */
export function nodeLoads(
  nodes: readonly NodeFacts[],
  live: readonly LiveInstance[],
  settings: Settings,
): Map<string, number> {
  const usage = nodeUsage(live, settings);
  const out = new Map<string, number>();
  for (const n of nodes) {
    const cap = memoryCapacity(n);
    const committed = usage.get(n.node_id)?.committed_bytes ?? 0;
    out.set(n.node_id, cap > 0 ? committed / cap : Number.POSITIVE_INFINITY);
  }
  return out;
}
