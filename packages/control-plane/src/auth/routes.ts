import type { FastifyInstance } from "fastify";
import { Type } from "typebox";
import { addRoute, type RouteDeps } from "../http/route.ts";
import { registerDeviceRoutes } from "./device-routes.ts";
import { registerServicePrincipalRoutes } from "./sp-routes.ts";
import { registerTokenRoutes } from "./token-routes.ts";

const WhoAmI = Type.Object({
  subject_type: Type.String(),
  subject_id: Type.String(),
  email: Type.Optional(Type.String()),
  org_memberships: Type.Array(Type.Object({ org_id: Type.String(), role: Type.String() })),
  scopes: Type.Array(Type.String()),
});

/** Every auth endpoint: whoami, the token endpoints, the device flow and its page, service principals. */
export function registerAuthRoutes(app: FastifyInstance, deps: RouteDeps): void {
  registerTokenRoutes(app, deps);
  registerDeviceRoutes(app, deps);
  registerServicePrincipalRoutes(app, deps);
  addRoute(app, deps, {
    method: "GET",
    url: "/v1/auth/whoami",
    operationId: "auth.whoami",
    summary: "Who the token belongs to, its orgs and scopes",
    tags: ["auth"],
    scope: null,
    response: { 200: WhoAmI },
    handler: async ({ principal }) => {
      const { rows } = await deps.pool.query<{ org_id: string; role: string }>(
        "SELECT org_id, role FROM org_members WHERE user_id = $1 AND NOT is_deleted ORDER BY org_id",
        [principal.id],
      );
      const scopes = [...principal.tokenScopes];
      if (principal.operator && !scopes.includes("nodes:admin")) scopes.push("nodes:admin");
      return {
        status: 200,
        body: {
          subject_type: principal.type,
          subject_id: principal.id,
          ...(principal.email ? { email: principal.email } : {}),
          org_memberships:
            principal.type === "service_principal" && principal.orgId
              ? [{ org_id: principal.orgId, role: "service_principal" }]
              : rows,
          scopes: scopes.sort(),
        },
      };
    },
  });
}
