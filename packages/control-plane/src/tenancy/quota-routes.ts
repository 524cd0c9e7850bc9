import type { FastifyInstance } from "fastify";
import { type Static, Type } from "typebox";
import { addRoute, type RouteDeps } from "../http/route.ts";
import { setQuota } from "./quota-commands.ts";
import { listQuotas, QUOTA_DIMENSIONS } from "./quotas.ts";
import { commandEnv, ExpectedVersion, OrgId, OrgParams } from "./schemas.ts";

const Dimension = Type.Union(QUOTA_DIMENSIONS.map((d) => Type.Literal(d)));
// `org_id`, not `org`: addRoute checks org membership for `:org`, and an
// operator sets quotas of orgs they do not belong to (nodes:admin is global).
const QuotaParams = Type.Object({ org_id: OrgId, dimension: Dimension }, { additionalProperties: false });
const PutQuotaBody = Type.Object(
  {
    limit_value: Type.Union([Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), Type.Null()]),
    expected_version: Type.Optional(ExpectedVersion),
  },
  { additionalProperties: false },
);
const Quota = Type.Object({
  dimension: Type.String(),
  limit: Type.Union([Type.Integer(), Type.Null()]),
  current_usage: Type.Integer(),
  resource_version: Type.Integer(),
});

/** Quotas: every dimension with limit and usage; operators set one (spec platform.md §4.4, §6.4). */
export function registerQuotaRoutes(app: FastifyInstance, deps: RouteDeps): void {
  addRoute<unknown, Static<typeof OrgParams>>(app, deps, {
    method: "GET",
    url: "/v1/orgs/:org/quotas",
    operationId: "quotas.list",
    summary: "Every quota of the organisation: limit (null = unlimited) and current usage",
    tags: ["quotas"],
    scope: "orgs:read",
    params: OrgParams,
    response: {
      200: Type.Object({ items: Type.Array(Quota), next_cursor: Type.Null() }),
    },
    handler: async (ctx) => ({
      status: 200,
      body: { items: await listQuotas(deps.pool, ctx.params.org), next_cursor: null },
    }),
  });

  addRoute<Static<typeof PutQuotaBody>, Static<typeof QuotaParams>>(app, deps, {
    method: "PUT",
    url: "/v1/orgs/:org_id/quotas/:dimension",
    operationId: "quotas.set",
    summary: "Set one quota of an organisation (operators; limit_value null = unlimited)",
    tags: ["quotas"],
    scope: "nodes:admin",
    params: QuotaParams,
    body: PutQuotaBody,
    response: { 200: Quota },
    handler: async (ctx) => {
      const r = await setQuota(commandEnv(ctx, app.log), ctx.params.org_id, ctx.params.dimension, ctx.body);
      return {
        status: 200,
        body: r.response,
        replayed: r.replayed,
        wait: { position: r.position, projections: ["orgs", "org_quotas"] },
      };
    },
  });
}
