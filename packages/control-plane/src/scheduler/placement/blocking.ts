// Choosing one §6.2 blocking reason when no node can take an instance.
//
// Rule (stable and documented for `why`): every worker node votes with the
// reason its rejection maps to; the reason with most votes wins, ties going
// to the earlier entry of REASON_PRECEDENCE, which puts the most specific,
// most actionable reason first (a node lacking only memory passed every other
// check). Nodes without the worker role do not vote: they are never
// candidates, so an edge-heavy fleet with full workers reports
// no_capacity_memory, not no_nodes_active. No worker at all → no_nodes_active.
import { describeRejection, formatBytes } from "./eligibility.ts";
import type { BlockingReason, NodeRejection, NodeVerdict } from "./types.ts";

type NodeReason = "no_capacity_memory" | "no_matching_arch" | "no_nodes_active";

export const REASON_PRECEDENCE: readonly NodeReason[] = [
  "no_capacity_memory",
  "no_matching_arch",
  "no_nodes_active",
];

/** The blocking reason a node's rejection stands for; null when the node does not vote. */
export function reasonOf(r: NodeRejection): NodeReason | null {
  switch (r.reason) {
    case "role_not_worker":
      return null;
    case "memory":
      return "no_capacity_memory";
    case "arch_mismatch":
      return "no_matching_arch";
    case "state_not_active":
    case "heartbeat_stale":
    case "unhealthy":
    case "no_allocatable":
      return "no_nodes_active";
  }
}

/** The winning reason and a one-line explanation; `verdicts` are every node's rejection. */
export function chooseReason(
  verdicts: readonly NodeVerdict[],
  neededBytes: number,
): { reason: BlockingReason; detail: string } {
  const votes = new Map<NodeReason, number>();
  for (const v of verdicts) {
    const r = reasonOf(v.rejection);
    if (r) votes.set(r, (votes.get(r) ?? 0) + 1);
  }
  let best: NodeReason = "no_nodes_active";
  let bestVotes = 0;
  for (const r of REASON_PRECEDENCE) {
    const n = votes.get(r) ?? 0;
    if (n > bestVotes) {
      best = r;
      bestVotes = n;
    }
  }
  const total = verdicts.length;
  const summary = REASON_PRECEDENCE.filter((r) => votes.has(r))
    .map((r) => `${votes.get(r)} ${r}`)
    .join(", ");
  const example = verdicts.find((v) => reasonOf(v.rejection) === best);
  const detail =
    total === 0
      ? "no nodes"
      : `no node of ${total} can take ${formatBytes(neededBytes)} (${summary || "no worker nodes"})` +
        (example ? `; e.g. ${example.node_id}: ${describeRejection(example.rejection)}` : "");
  return { reason: best, detail };
}
