// The repairs /v1/_debug/stuck points to (spec §4.4, issue: "Repairs append
// corrective events; history is never edited"): fail a deploy that is past
// its timeout, and record an instance stopped when its node never will.
// Both are ordinary idempotent commands through the kernel.
import { handleCommand, KernelError } from "@plfm/kernel";
import type { FastifyInstance } from "fastify";
import { type Static, Type } from "typebox";
import { decideDeployStatus, decideForceStop, deployAggregate, instanceAggregate } from "../apps/index.ts";
import { idSchema as id } from "../http/ids.ts";
import { addRoute, type RouteContext, type RouteDeps } from "../http/route.ts";

const DeployParams = Type.Object({ deploy: id("dep") }, { additionalProperties: false });
const InstanceParams = Type.Object({ instance: id("inst") }, { additionalProperties: false });

const metaOf = (ctx: RouteContext<unknown, unknown, unknown>) => ({
  actorType: ctx.principal.type,
  actorId: ctx.principal.id,
  requestId: ctx.requestId,
});

export function registerRepairRoutes(app: FastifyInstance, deps: RouteDeps): void {
  addRoute<unknown, Static<typeof DeployParams>>(app, deps, {
    method: "POST",
    url: "/v1/_debug/deploys/:deploy/fail",
    operationId: "debug.deploys.fail",
    summary: "Fail a queued or rolling deploy (failed_reason timeout); its desired releases stay",
    tags: ["operator"],
    scope: "nodes:admin",
    params: DeployParams,
    handler: async (ctx) => {
      const at = ctx.deps.now();
      const r = await handleCommand(ctx.deps.pool, {
        aggregate: deployAggregate,
        aggregateId: ctx.params.deploy,
        meta: metaOf(ctx),
        ...(ctx.idempotency ? { idempotency: ctx.idempotency } : {}),
        decide: (state) => {
          if (state.exists && state.status !== "queued" && state.status !== "rolling") {
            throw new KernelError("conflict", `The deploy is already ${state.status}.`);
          }
          const events = decideDeployStatus(
            state,
            ctx.params.deploy,
            {
              status: "failed",
              failed_reason: "timeout",
              message: "Failed by an operator: past its timeout.",
            },
            at,
          );
          return {
            events,
            response: { deploy_id: ctx.params.deploy, status: "failed", failed_reason: "timeout" },
          };
        },
      });
      return {
        status: 200,
        body: r.response,
        replayed: r.replayed,
        wait: { position: r.position, projections: ["deploys"] },
      };
    },
  });

  addRoute<unknown, Static<typeof InstanceParams>>(app, deps, {
    method: "POST",
    url: "/v1/_debug/instances/:instance/stop",
    operationId: "debug.instances.stop",
    summary: "Record an instance stopped whose node will not report it (a forced stop)",
    tags: ["operator"],
    scope: "nodes:admin",
    params: InstanceParams,
    handler: async (ctx) => {
      const r = await handleCommand(ctx.deps.pool, {
        aggregate: instanceAggregate,
        aggregateId: ctx.params.instance,
        meta: metaOf(ctx),
        ...(ctx.idempotency ? { idempotency: ctx.idempotency } : {}),
        decide: (state) => {
          if (!state.exists) throw new KernelError("not_found", "No such instance.");
          return {
            events: decideForceStop(state, ctx.params.instance),
            response: { instance_id: ctx.params.instance, desired_state: "stopped" },
          };
        },
      });
      return {
        status: 200,
        body: r.response,
        replayed: r.replayed,
        wait: { position: r.position, projections: ["instances"] },
      };
    },
  });
}
