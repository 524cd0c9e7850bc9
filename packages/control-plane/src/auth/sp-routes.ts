import { KernelError } from "@plfm/kernel";
import type { FastifyInstance } from "fastify";
import { type Static, Type } from "typebox";
import { idSchema } from "../http/ids.ts";
import { PageQuery, pageAfter, toPage } from "../http/pagination.ts";
import { addRoute, type RouteContext, type RouteDeps } from "../http/route.ts";
import type { OrgAccess } from "./principal.ts";
import { ScopeList } from "./schemas.ts";
import type { ServicePrincipalView } from "./service-principal.ts";
import {
  createServicePrincipal,
  deleteServicePrincipal,
  rotateServicePrincipalSecret,
  type SpCommandEnv,
  updateServicePrincipalScopes,
} from "./sp-commands.ts";

const OrgId = idSchema("org");
const SpId = idSchema("sp");
const OrgParams = Type.Object({ org: OrgId }, { additionalProperties: false });
const SpParams = Type.Object({ org: OrgId, sp: SpId }, { additionalProperties: false });
const Scopes = Type.Array(ScopeList.items, { ...ScopeList, minItems: 1 });
const CreateBody = Type.Object(
  { name: Type.String({ pattern: "^[a-z][a-z0-9-]*$", minLength: 1, maxLength: 63 }), scopes: Scopes },
  { additionalProperties: false },
);
const PatchBody = Type.Object(
  { scopes: Scopes, expected_version: Type.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);
const ServicePrincipal = Type.Object({
  service_principal_id: Type.String(),
  org_id: Type.String(),
  name: Type.String(),
  scopes: Type.Array(Type.String()),
  client_id: Type.String(),
  secret_rotated_at: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  resource_version: Type.Integer(),
  created_at: Type.String({ format: "date-time" }),
  updated_at: Type.String({ format: "date-time" }),
});
const WithSecret = Type.Object({
  service_principal: ServicePrincipal,
  client_id: Type.String(),
  client_secret: Type.Optional(Type.String({ description: "Shown once; absent on an idempotent replay" })),
});

const PROJECTIONS = ["service_principals"];
const TAGS = ["service-principals"];

interface Row {
  service_principal_id: string;
  org_id: string;
  name: string;
  scopes: string[];
  secret_rotated_at: Date | null;
  resource_version: number;
  created_at: Date;
  updated_at: Date;
}
const toView = (r: Row): ServicePrincipalView => ({
  ...r,
  client_id: r.service_principal_id,
  secret_rotated_at: r.secret_rotated_at?.toISOString() ?? null,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
});
const COLUMNS = `service_principal_id, org_id, name, scopes, secret_rotated_at, resource_version,
                 created_at, updated_at`;

/** Granting is delegation: nobody gives a principal a scope they do not hold in the org. */
function requireHeld(org: OrgAccess | null, scopes: readonly string[]): void {
  const missing = scopes.filter((s) => !org?.scopes.has(s as never));
  if (missing.length > 0) {
    throw new KernelError(
      "insufficient_scope",
      `You cannot grant scopes you do not hold: ${missing.join(", ")}.`,
      {
        details: [{ field: "scopes", code: "not_held", message: missing.join(" ") }],
      },
    );
  }
}

/** `/v1/orgs/{org}/service-principals…` (spec §4.4): orgs:admin throughout. */
export function registerServicePrincipalRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const base = "/v1/orgs/:org/service-principals";
  const envOf = (ctx: RouteContext<unknown, { org: string }, unknown>): SpCommandEnv => ({
    pool: deps.pool,
    principal: ctx.principal,
    orgId: ctx.params.org,
    idempotency: ctx.idempotency,
    requestId: ctx.requestId,
    now: deps.now(),
    log: app.log,
  });

  addRoute<Static<typeof CreateBody>, Static<typeof OrgParams>>(app, deps, {
    method: "POST",
    url: base,
    operationId: "service_principals.create",
    summary: "Create a service principal; its client secret is shown once",
    tags: TAGS,
    scope: "orgs:admin",
    params: OrgParams,
    body: CreateBody,
    response: { 201: WithSecret },
    handler: async (ctx) => {
      requireHeld(ctx.org, ctx.body.scopes);
      const r = await createServicePrincipal(envOf(ctx), ctx.body);
      return {
        status: 201,
        body: r.response,
        replayed: r.replayed,
        wait: { position: r.position, projections: PROJECTIONS },
      };
    },
  });

  addRoute<unknown, Static<typeof OrgParams>, Static<typeof PageQuery>>(app, deps, {
    method: "GET",
    url: base,
    operationId: "service_principals.list",
    summary: "The org's service principals",
    tags: TAGS,
    scope: "orgs:admin",
    params: OrgParams,
    querystring: PageQuery,
    handler: async (ctx) => {
      const limit = ctx.query.limit ?? 50;
      const { rows } = await deps.pool.query<Row>(
        `SELECT ${COLUMNS} FROM service_principals
          WHERE org_id = $1 AND NOT is_deleted AND service_principal_id > $2
          ORDER BY service_principal_id LIMIT $3`,
        [ctx.params.org, pageAfter(ctx.query.cursor), limit + 1],
      );
      return { status: 200, body: toPage(rows.map(toView), limit, (s) => s.service_principal_id) };
    },
  });

  addRoute<unknown, Static<typeof SpParams>>(app, deps, {
    method: "GET",
    url: `${base}/:sp`,
    operationId: "service_principals.get",
    summary: "Read a service principal",
    tags: TAGS,
    scope: "orgs:admin",
    params: SpParams,
    response: { 200: ServicePrincipal },
    handler: async (ctx) => {
      const { rows } = await deps.pool.query<Row>(
        `SELECT ${COLUMNS} FROM service_principals
          WHERE service_principal_id = $1 AND org_id = $2 AND NOT is_deleted`,
        [ctx.params.sp, ctx.params.org],
      );
      if (!rows[0]) throw new KernelError("not_found", "No such service principal.");
      return { status: 200, body: toView(rows[0]) };
    },
  });

  addRoute<Static<typeof PatchBody>, Static<typeof SpParams>>(app, deps, {
    method: "PATCH",
    url: `${base}/:sp`,
    operationId: "service_principals.update",
    summary: "Replace a service principal's scopes; live tokens with dropped scopes are revoked",
    tags: TAGS,
    scope: "orgs:admin",
    params: SpParams,
    body: PatchBody,
    response: { 200: ServicePrincipal },
    handler: async (ctx) => {
      requireHeld(ctx.org, ctx.body.scopes);
      const r = await updateServicePrincipalScopes(envOf(ctx), ctx.params.sp, ctx.body);
      return {
        status: 200,
        body: r.response,
        replayed: r.replayed,
        wait: { position: r.position, projections: PROJECTIONS },
      };
    },
  });

  addRoute<unknown, Static<typeof SpParams>>(app, deps, {
    method: "DELETE",
    url: `${base}/:sp`,
    operationId: "service_principals.delete",
    summary: "Delete a service principal; its secret and tokens stop working at once",
    tags: TAGS,
    scope: "orgs:admin",
    params: SpParams,
    handler: async (ctx) => {
      const r = await deleteServicePrincipal(envOf(ctx), ctx.params.sp);
      return { status: 204, replayed: r.replayed, wait: { position: r.position, projections: PROJECTIONS } };
    },
  });

  addRoute<unknown, Static<typeof SpParams>>(app, deps, {
    method: "POST",
    url: `${base}/:sp/rotate-secret`,
    operationId: "service_principals.rotate_secret",
    summary: "Issue a new client secret (shown once); the old one and its tokens stop working",
    tags: TAGS,
    scope: "orgs:admin",
    params: SpParams,
    response: { 200: WithSecret },
    handler: async (ctx) => {
      const r = await rotateServicePrincipalSecret(envOf(ctx), ctx.params.sp);
      return {
        status: 200,
        body: r.response,
        replayed: r.replayed,
        wait: { position: r.position, projections: PROJECTIONS },
      };
    },
  });
}
