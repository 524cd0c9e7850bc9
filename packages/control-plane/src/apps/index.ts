import type { BoundedContext } from "../context.ts";
import { registerEnvRoutes } from "./env-routes.ts";
import { instancesProjection } from "./instance-projections.ts";
import { registerInstanceRoutes } from "./instance-routes.ts";
import { appsProjections } from "./projections.ts";
import { releaseProjections } from "./release-projections.ts";
import { registerReleaseRoutes } from "./release-routes.ts";
import { registerAppsRoutes } from "./routes.ts";

// For other contexts: the parent locks, the project-in-use check (tenancy's
// project delete), quota usage counters, and the process-type hook (releases).
export { canTransition, decideDeployStatus, deployAggregate } from "./deploy.ts";
export {
  appUsage,
  envDeletionBlocker,
  envUsage,
  lockParent,
  projectHasApps,
  unknownProcessTypes,
} from "./guards.ts";
// For the node-facing status route (fleet) and the scheduler.
export {
  decideForceStop,
  decideStatusReport,
  INSTANCE_REASON_CODES,
  INSTANCE_STATUSES,
  type InstanceState,
  type InstanceStatus,
  instanceAggregate,
  type StatusReport,
} from "./instance.ts";
// For the scheduler's `why`: the same desired-against-current as env status.
export type { EnvPath } from "./reads.ts";
export { readEnvProcesses } from "./status-reads.ts";

/** Apps, their envs, each env's scale, releases, and deploys/rollbacks. */
export const apps: BoundedContext = {
  name: "apps",
  migrations: new URL("./migrations", import.meta.url).pathname,
  projections: [...appsProjections, ...releaseProjections, instancesProjection],
  registerRoutes(app, deps) {
    registerAppsRoutes(app, deps);
    registerEnvRoutes(app, deps);
    registerReleaseRoutes(app, deps);
    registerInstanceRoutes(app, deps);
  },
};
