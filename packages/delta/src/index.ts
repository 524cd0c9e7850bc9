// Delta CI (spec delta-ci.md). Only the planner so far; the server, orchestrator and
// runner come later.

export { canonicalHash, canonicalJson } from "./planner/canonical.ts";
export { GLOBAL_INPUTS } from "./planner/detect.ts";
export { parsePipeline } from "./planner/pipeline.ts";
export { buildPlan, PLANNER_VERSION, type PlanBody, type PlanJob } from "./planner/plan.ts";
export {
  explainPlan,
  type PlanCommitInput,
  type PlanResult,
  planCommit,
  type Trigger,
} from "./planner/planner.ts";
