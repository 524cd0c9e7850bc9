import type { BoundedContext } from "../context.ts";
import { registerEnvRoutes } from "./env-routes.ts";
import { appsProjections } from "./projections.ts";
import { registerAppsRoutes } from "./routes.ts";

// For other contexts: the parent locks, the project-in-use check (tenancy's
// project delete), quota usage counters, and the process-type hook (releases).
export {
  appUsage,
  envDeletionBlocker,
  envUsage,
  lockParent,
  projectHasApps,
  unknownProcessTypes,
} from "./guards.ts";

/** Apps, their envs, and each env's scale (releases and deploys come later). */
export const apps: BoundedContext = {
  name: "apps",
  migrations: new URL("./migrations", import.meta.url).pathname,
  projections: appsProjections,
  registerRoutes(app, deps) {
    registerAppsRoutes(app, deps);
    registerEnvRoutes(app, deps);
  },
};
