import type { BoundedContext } from "../context.ts";
import { tenancyProjections } from "./projections.ts";
import { registerTenancyRoutes } from "./routes.ts";

/** Orgs, members, projects, service principals, quotas. */
export const tenancy: BoundedContext = {
  name: "tenancy",
  migrations: new URL("./migrations", import.meta.url).pathname,
  projections: tenancyProjections,
  registerRoutes: registerTenancyRoutes,
};
