// An env's instances (spec platform.md §4.4): list and read the `instances`
// view, and restart one. A restart only drains the instance (reason
// `operator_restart`); allocating its replacement is the scheduler's job, as
// in a rollout (§6.3), so it answers 202.
import { handleCommand, KernelError } from "@plfm/kernel";
import type { FastifyInstance } from "fastify";
import { type Static, Type } from "typebox";
import { idSchema as ulid } from "../http/ids.ts";
import { PageQuery, pageAfter, toPage } from "../http/pagination.ts";
import { addRoute, type RouteDeps } from "../http/route.ts";
import { decideRestart, INSTANCE_STATUSES, instanceAggregate } from "./instance.ts";
import { type InstancePath, listInstances, readInstance } from "./instance-projections.ts";
import { readEnv } from "./reads.ts";
import { ProcessType } from "./schemas.ts";

const InstancesParams = Type.Object(
  { org: ulid("org"), app: ulid("app"), env: ulid("env") },
  { additionalProperties: false },
);
const InstanceParams = Type.Object(
  { org: ulid("org"), app: ulid("app"), env: ulid("env"), instance: ulid("inst") },
  { additionalProperties: false },
);
export const InstanceStatusSchema = Type.Union(INSTANCE_STATUSES.map((s) => Type.Literal(s)));
const InstancesQuery = Type.Object(
  {
    ...PageQuery.properties,
    process_type: Type.Optional(ProcessType),
    status: Type.Optional(InstanceStatusSchema),
  },
  { additionalProperties: false },
);

const URL_ = "/v1/orgs/:org/apps/:app/envs/:env/instances";
type InstanceP = InstancePath & { instance: string };

export function registerInstanceRoutes(app: FastifyInstance, deps: RouteDeps): void {
  addRoute<unknown, InstancePath, Static<typeof InstancesQuery>>(app, deps, {
    tags: ["instances"],
    method: "GET",
    url: URL_,
    operationId: "instances.list",
    summary: "The env's instances by id (?process_type&status)",
    scope: "envs:read",
    params: InstancesParams,
    querystring: InstancesQuery,
    handler: async (ctx) => {
      await readEnv(deps.pool, ctx.params);
      const limit = ctx.query.limit ?? 50;
      const rows = await listInstances(deps.pool, ctx.params, ctx.query, pageAfter(ctx.query.cursor), limit);
      return { status: 200, body: toPage(rows, limit, (r) => r.instance_id) };
    },
  });

  addRoute<unknown, InstanceP>(app, deps, {
    tags: ["instances"],
    method: "GET",
    url: `${URL_}/:instance`,
    operationId: "instances.get",
    summary: "Read an instance",
    scope: "envs:read",
    params: InstanceParams,
    handler: async (ctx) => ({ status: 200, body: await readInstance(deps.pool, ctx.params) }),
  });

  addRoute<unknown, InstanceP>(app, deps, {
    tags: ["instances"],
    method: "POST",
    url: `${URL_}/:instance/restart`,
    operationId: "instances.restart",
    summary: "Restart an instance: drain it (operator_restart); the scheduler replaces it",
    scope: "envs:write",
    params: InstanceParams,
    handler: async (ctx) => {
      const { org, app: appId, env, instance } = ctx.params;
      const r = await handleCommand(deps.pool, {
        aggregate: instanceAggregate,
        aggregateId: instance,
        meta: { actorType: ctx.principal.type, actorId: ctx.principal.id, requestId: ctx.requestId },
        ...(ctx.idempotency ? { idempotency: ctx.idempotency } : {}),
        decide: (state) => {
          // Another org's, app's or env's instance is as good as absent.
          if (!state.exists || state.orgId !== org || state.appId !== appId || state.envId !== env) {
            throw new KernelError("not_found", "No such instance.");
          }
          return {
            events: decideRestart(state, instance),
            response: {
              instance_id: instance,
              desired_state: state.desiredState === "running" ? "draining" : state.desiredState,
              reason: "operator_restart",
            },
          };
        },
      });
      return {
        status: 202,
        body: r.response,
        replayed: r.replayed,
        wait: { position: r.position, projections: ["instances"] },
      };
    },
  });
}
