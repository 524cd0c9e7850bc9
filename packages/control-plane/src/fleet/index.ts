import type { BoundedContext } from "../context.ts";
import { fleetProjections } from "./projections.ts";
import { registerFleetRoutes } from "./routes.ts";

export { decideOffline, nodeAggregate, nodeOverlayAddress } from "./node.ts";
// For other contexts: who a node credential belongs to, and the node overlay address rule.
export { addNodeRoute, authenticateNode } from "./node-auth.ts";

/** Nodes: enrollment tokens, enrollment, node credentials, heartbeats, plans, operator management. */
export const fleet: BoundedContext = {
  name: "fleet",
  migrations: new URL("./migrations", import.meta.url).pathname,
  projections: fleetProjections,
  registerRoutes: registerFleetRoutes,
};
