import type { BoundedContext } from "../context.ts";
import { registerDebugRoutes } from "./debug-routes.ts";
import { registerEventRoutes } from "./events-routes.ts";
import { registerRepairRoutes } from "./repair-routes.ts";

/**
 * Events and operator tooling: the change feed over HTTP (polling and SSE),
 * projection status and rebuilds, one aggregate's history, stuck states.
 * It keeps no views of its own: everything is read from the log and the
 * kernel's checkpoints.
 */
export const operator: BoundedContext = {
  name: "operator",
  projections: [],
  registerRoutes(app, deps) {
    registerEventRoutes(app, deps);
    registerDebugRoutes(app, deps);
    registerRepairRoutes(app, deps);
  },
};
