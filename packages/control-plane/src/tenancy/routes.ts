import { KernelError } from "@plfm/kernel";
import type { FastifyInstance } from "fastify";
import { type Static, Type } from "typebox";
import { PageQuery, pageAfter, toPage } from "../http/pagination.ts";
import { addRoute, type RouteDeps } from "../http/route.ts";
import { createOrg, updateOrg } from "./commands.ts";
import { registerMemberRoutes } from "./member-routes.ts";
import type { OrgView } from "./org.ts";
import { registerProjectRoutes } from "./project-routes.ts";
import { registerQuotaRoutes } from "./quota-routes.ts";
import { commandEnv, Email, Name, OrgParams } from "./schemas.ts";

const CreateOrgBody = Type.Object(
  { name: Name, billing_email: Type.Optional(Email) },
  { additionalProperties: false },
);
const PatchOrgBody = Type.Object(
  {
    name: Type.Optional(Name),
    billing_email: Type.Optional(Email),
    expected_version: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
const Org = Type.Object({
  org_id: Type.String(),
  name: Type.String(),
  billing_email: Type.Union([Type.String(), Type.Null()]),
  resource_version: Type.Integer(),
  created_at: Type.String({ format: "date-time" }),
  updated_at: Type.String({ format: "date-time" }),
});

const ORG_PROJECTIONS = ["orgs", "org_members"];

interface OrgRow {
  org_id: string;
  name: string;
  billing_email: string | null;
  resource_version: number;
  created_at: Date;
  updated_at: Date;
}
const toView = (r: OrgRow): OrgView => ({
  ...r,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
});

/** Orgs: create (the creator becomes owner), list mine, read, rename; then members, projects, quotas. */
export function registerTenancyRoutes(app: FastifyInstance, deps: RouteDeps): void {
  registerOrgRoutes(app, deps);
  registerMemberRoutes(app, deps);
  registerProjectRoutes(app, deps);
  registerQuotaRoutes(app, deps);
}

function registerOrgRoutes(app: FastifyInstance, deps: RouteDeps): void {
  addRoute<Static<typeof CreateOrgBody>>(app, deps, {
    method: "POST",
    url: "/v1/orgs",
    operationId: "orgs.create",
    summary: "Create an organisation; you become its owner",
    tags: ["orgs"],
    scope: null,
    body: CreateOrgBody,
    response: { 201: Org },
    handler: async (ctx) => {
      const r = await createOrg(commandEnv(ctx, app.log), ctx.body);
      return {
        status: 201,
        body: r.response,
        replayed: r.replayed,
        wait: { position: r.position, projections: ORG_PROJECTIONS },
      };
    },
  });

  addRoute<unknown, unknown, Static<typeof PageQuery>>(app, deps, {
    method: "GET",
    url: "/v1/orgs",
    operationId: "orgs.list",
    summary: "The organisations you belong to",
    tags: ["orgs"],
    scope: null,
    querystring: PageQuery,
    handler: async (ctx) => {
      const limit = ctx.query.limit ?? 50;
      const { rows } = await deps.pool.query<OrgRow>(
        `SELECT o.org_id, o.name, o.billing_email, o.resource_version, o.created_at, o.updated_at
           FROM orgs o
          WHERE NOT o.is_deleted AND o.org_id > $3
            AND (o.org_id = $2 OR EXISTS (SELECT 1 FROM org_members m
                  WHERE m.org_id = o.org_id AND m.user_id = $1 AND NOT m.is_deleted))
          ORDER BY o.org_id LIMIT $4`,
        [ctx.principal.id, ctx.principal.orgId, pageAfter(ctx.query.cursor), limit + 1],
      );
      return { status: 200, body: toPage(rows.map(toView), limit, (o) => o.org_id) };
    },
  });

  addRoute<unknown, Static<typeof OrgParams>>(app, deps, {
    method: "GET",
    url: "/v1/orgs/:org",
    operationId: "orgs.get",
    summary: "Read an organisation",
    tags: ["orgs"],
    scope: "orgs:read",
    params: OrgParams,
    response: { 200: Org },
    handler: async (ctx) => {
      const { rows } = await deps.pool.query<OrgRow>(
        `SELECT org_id, name, billing_email, resource_version, created_at, updated_at
           FROM orgs WHERE org_id = $1 AND NOT is_deleted`,
        [ctx.params.org],
      );
      const row = rows[0];
      if (!row) throw new KernelError("not_found", "No such organisation.");
      return { status: 200, body: toView(row) };
    },
  });

  addRoute<Static<typeof PatchOrgBody>, Static<typeof OrgParams>>(app, deps, {
    method: "PATCH",
    url: "/v1/orgs/:org",
    operationId: "orgs.update",
    summary: "Rename an organisation or set its billing email",
    tags: ["orgs"],
    scope: "orgs:admin",
    params: OrgParams,
    body: PatchOrgBody,
    response: { 200: Org },
    handler: async (ctx) => {
      if (ctx.body.billing_email !== undefined && !ctx.org?.scopes.has("billing:write")) {
        throw new KernelError("insufficient_scope", "Setting billing_email needs the billing:write scope.");
      }
      const r = await updateOrg(commandEnv(ctx, app.log), ctx.params.org, ctx.body);
      return {
        status: 200,
        body: r.response,
        replayed: r.replayed,
        wait: { position: r.position, projections: ORG_PROJECTIONS },
      };
    },
  });
}
