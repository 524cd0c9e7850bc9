// Test fixtures for the reconcile core: terse instance and group facts.
import type { GroupFacts, InstanceFact } from "./rollout-types.ts";

export const NEW = "n".repeat(64);
export const OLD = "o".repeat(64);
export const T0 = 1_700_000_000_000;

export function inst(id: string, over: Partial<InstanceFact> = {}): InstanceFact {
  return {
    instance_id: id,
    node_id: "node_a",
    spec_hash: NEW,
    desired_state: "running",
    status: "ready",
    created_at_ms: T0,
    updated_at_ms: T0,
    node_state: "active",
    ...over,
  };
}

export function group(over: Partial<GroupFacts> = {}): GroupFacts {
  return {
    desired_release_id: "rel_new",
    desired_replicas: 1,
    group_spec_hash: NEW,
    stateful: false,
    blocked_reason_now: null,
    last_recorded_block: null,
    deploy: null,
    instances: [],
    failures_this_deploy: [],
    now_ms: T0 + 60_000,
    ...over,
  };
}
