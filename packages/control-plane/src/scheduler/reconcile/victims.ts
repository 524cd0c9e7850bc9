// Which instances go first when a group has more than it needs (spec §6.3:
// failed → not ready → oldest (then smallest id) → most loaded node).
//
// Node load is compared before the id: one scheduler pass allocates many
// instances with the same created_at, and among those the spec's "most loaded
// node" is the only criterion that carries meaning; the id stays the last,
// deterministic tie-break.
import type { InstanceFact } from "./rollout-types.ts";

function rank(i: InstanceFact): number {
  if (i.status === "failed") return 0;
  if (i.status !== "ready") return 1;
  return 2;
}

/** A copy of `instances`, first victim first. Pure and total: equal inputs give equal order. */
export function victimOrder(
  instances: readonly InstanceFact[],
  nodeLoad: Readonly<Record<string, number>> = {},
): InstanceFact[] {
  const load = (i: InstanceFact) => nodeLoad[i.node_id] ?? 0;
  return [...instances].sort(
    (a, b) =>
      rank(a) - rank(b) ||
      a.created_at_ms - b.created_at_ms ||
      load(b) - load(a) ||
      (a.instance_id < b.instance_id ? -1 : a.instance_id > b.instance_id ? 1 : 0),
  );
}
