import type { BoundedContext } from "../context.ts";
import { authProjections } from "./projections.ts";
import { registerAuthRoutes } from "./routes.ts";

/**
 * Tokens (access, refresh, device codes), the device flow, client
 * credentials and service principals. Listed first in contexts.ts: its
 * migrations refer to no other context's tables.
 */
export const auth: BoundedContext = {
  name: "auth",
  migrations: new URL("./migrations", import.meta.url).pathname,
  projections: authProjections,
  registerRoutes: registerAuthRoutes,
};
