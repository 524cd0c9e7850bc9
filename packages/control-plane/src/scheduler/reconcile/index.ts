// The scheduler's pure reconcile core (spec platform.md §6.3, §7.2): the group
// spec hash, the WorkloadSpec of a new instance, and per-group rollout
// decisions. Placement (which node) lives beside it in ../placement.
export { classify, failureHalt, type Groups, reconcileGroup } from "./rollout.ts";
export * from "./rollout-types.ts";
export { victimOrder } from "./victims.ts";
export {
  cpuShape,
  type GroupSpecInput,
  groupSpecHash,
  type MountFact,
  type ReleaseFacts,
  WORKLOAD_DEFAULTS,
  type WorkloadSpec,
  type WorkloadSpecInput,
  workloadSpec,
} from "./workload.ts";
export { WorkloadSpecSchema, workloadSpecProblems } from "./workload-schema.ts";
