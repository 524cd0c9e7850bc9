import { KernelError, projectionStatus, readAggregate, rebuildProjection, toWire } from "@plfm/kernel";
import type { FastifyInstance } from "fastify";
import { type Static, Type } from "typebox";
import { addRoute, type RouteDeps } from "../http/route.ts";
import { findStuck } from "./stuck.ts";

const NameParams = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 128, pattern: "^[a-z0-9_.:-]+$" }) },
  { additionalProperties: false },
);
const AggregateParams = Type.Object(
  {
    aggregate_type: Type.String({ minLength: 1, maxLength: 64, pattern: "^[a-z0-9_]+$" }),
    aggregate_id: Type.String({ minLength: 1, maxLength: 128 }),
  },
  { additionalProperties: false },
);
const ProjectionItem = Type.Object({
  name: Type.String(),
  position: Type.String(),
  lag_events: Type.Integer(),
  updated_at: Type.String({ format: "date-time" }),
  registered: Type.Boolean(),
});
const StuckItem = Type.Object({
  kind: Type.Union(
    ["deploy_past_timeout", "instance_stuck", "projection_lagging", "node_silent"].map((k) =>
      Type.Literal(k),
    ),
  ),
  ids: Type.Array(Type.String()),
  since: Type.String({ format: "date-time" }),
  fix_command: Type.String(),
});

/** Operator tooling (nodes:admin): checkpoints and lag, rebuilds, one aggregate's history, stuck states. */
export function registerDebugRoutes(app: FastifyInstance, deps: RouteDeps): void {
  addRoute(app, deps, {
    method: "GET",
    url: "/v1/_debug/projections",
    operationId: "debug.projections.list",
    summary: "Every projection's checkpoint and lag",
    tags: ["operator"],
    scope: "nodes:admin",
    response: { 200: Type.Object({ items: Type.Array(ProjectionItem) }) },
    handler: async ({ deps }) => {
      const registered = new Set((deps.projections ?? []).map((p) => p.name));
      const items = (await projectionStatus(deps.pool)).map((s) => ({
        name: s.name,
        position: s.position,
        lag_events: s.lagEvents,
        updated_at: s.updatedAt.toISOString(),
        registered: registered.has(s.name),
      }));
      return { status: 200, body: { items } };
    },
  });
  addRoute<unknown, Static<typeof NameParams>>(app, deps, {
    method: "POST",
    url: "/v1/_debug/projections/:name/reset",
    operationId: "debug.projections.reset",
    summary: "Rebuild a projection from the log",
    tags: ["operator"],
    scope: "nodes:admin",
    params: NameParams,
    handler: async ({ params, deps }) => {
      const projection = (deps.projections ?? []).find((p) => p.name === params.name);
      if (!projection) throw new KernelError("not_found", `No projection is named ${params.name}.`);
      // Views come only from the log: truncating one and replaying it loses nothing,
      // and the log itself is untouched. The leader's runner replays it from here.
      await rebuildProjection(deps.pool, projection);
      return { status: 202, body: { name: projection.name, status: "rebuilding" } };
    },
  });
  addRoute<unknown, Static<typeof AggregateParams>>(app, deps, {
    method: "GET",
    url: "/v1/_debug/aggregates/:aggregate_type/:aggregate_id",
    operationId: "debug.aggregates.get",
    summary: "One aggregate's full history",
    tags: ["operator"],
    scope: "nodes:admin",
    params: AggregateParams,
    handler: async ({ params, deps }) => {
      const events = await readAggregate(deps.pool, params.aggregate_type, params.aggregate_id);
      if (events.length === 0) {
        throw new KernelError("not_found", `No events for ${params.aggregate_type} ${params.aggregate_id}.`);
      }
      return {
        status: 200,
        body: {
          aggregate_type: params.aggregate_type,
          aggregate_id: params.aggregate_id,
          items: events.map(toWire),
        },
      };
    },
  });
  addRoute(app, deps, {
    method: "GET",
    url: "/v1/_debug/stuck",
    operationId: "debug.stuck",
    summary: "Stuck states and the commands that repair them",
    tags: ["operator"],
    scope: "nodes:admin",
    response: { 200: Type.Object({ items: Type.Array(StuckItem) }) },
    handler: async ({ deps }) => ({ status: 200, body: { items: await findStuck(deps.pool, deps.now()) } }),
  });
}
