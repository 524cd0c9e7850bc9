import type { FastifyInstance } from "fastify";
import type { BoundedContext } from "../context.ts";
import type { RouteDeps } from "../http/route.ts";
import { registerNetworkingRoutes } from "./networking-api.ts";
import { networkingProjections } from "./projections.ts";
import { registerRouteRoutes } from "./routes-api.ts";

/** Routes (hostname and port on the edge → a process's port) and the per-env IPv4 add-on. */
export const networking: BoundedContext = {
  name: "networking",
  migrations: new URL("./migrations", import.meta.url).pathname,
  projections: networkingProjections,
  registerRoutes(app: FastifyInstance, deps: RouteDeps) {
    registerRouteRoutes(app, deps);
    registerNetworkingRoutes(app, deps);
  },
};
