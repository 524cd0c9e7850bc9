// `GET E/why` (spec platform.md §4.4): why an env's processes are where they
// are. Reads only; the pure assembly is why.ts.
import type { FastifyInstance } from "fastify";
import { Type } from "typebox";
import { type EnvPath, readEnvProcesses } from "../apps/index.ts";
import { EnvParams } from "../apps/schemas.ts";
import { addRoute, type RouteDeps } from "../http/route.ts";
import { assembleWhy } from "./why.ts";
import { processEvents, schedulerStatusRows, schedulingRows } from "./why-reads.ts";

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Timestamp = Type.String({ format: "date-time" });

const Envelope = Type.Object({
  cursor: Type.String(),
  event_id: Type.String(),
  occurred_at: Timestamp,
  aggregate_type: Type.String(),
  aggregate_id: Type.String(),
  aggregate_seq: Type.Integer(),
  event_type: Type.String(),
  event_version: Type.Integer(),
  actor_type: Type.String(),
  actor_id: Type.String(),
  request_id: Type.String(),
  org_id: Nullable(Type.String()),
  app_id: Nullable(Type.String()),
  env_id: Nullable(Type.String()),
  correlation_id: Nullable(Type.String()),
  causation_id: Nullable(Type.String()),
  idempotency_key: Nullable(Type.String()),
  payload: Type.Record(Type.String(), Type.Unknown()),
});

/** The response: what a client (and the CLI's `plfm why`) can rely on. */
export const WhyResponse = Type.Object({
  env_id: Type.String(),
  processes: Type.Array(
    Type.Object({
      process_type: Type.String(),
      desired: Type.Integer(),
      current: Type.Object({
        ready: Type.Integer(),
        booting: Type.Integer(),
        draining: Type.Integer(),
        failed: Type.Integer(),
        release_id: Nullable(Type.String()),
      }),
      desired_release_id: Nullable(Type.String()),
      release_synced: Type.Boolean(),
      blockers: Type.Array(
        Type.Object({
          reason: Type.String(),
          detail: Nullable(Type.String()),
          since: Timestamp,
          // Each node considered: {node_id, reason, detail, facts{…}} as the reconciler recorded it.
          facts: Type.Array(Type.Record(Type.String(), Type.Unknown())),
        }),
      ),
      last_reconcile_at: Nullable(Timestamp),
      last_error: Nullable(Type.String()),
      events: Type.Array(Envelope),
    }),
  ),
  explanation: Type.Array(Type.String()),
});

/** Registers `GET E/why`. */
export function registerWhyRoutes(app: FastifyInstance, deps: RouteDeps): void {
  addRoute<unknown, EnvPath>(app, deps, {
    method: "GET",
    url: "/v1/orgs/:org/apps/:app/envs/:env/why",
    operationId: "envs.why",
    summary:
      "Per process type: desired against current, blockers with their facts, and the events behind them",
    tags: ["envs"],
    scope: "envs:read",
    params: EnvParams,
    response: { 200: WhyResponse },
    handler: async (ctx) => {
      const p = ctx.params;
      // First: a foreign or unknown env is 404 before anything else is read.
      const { processes } = await readEnvProcesses(deps.pool, p, deps.now());
      const [scheduling, statuses, events] = await Promise.all([
        schedulingRows(deps.pool, p.env),
        schedulerStatusRows(deps.pool, p.env),
        Promise.all(processes.map((x) => processEvents(deps.pool, p.org, p.env, x.process_type))),
      ]);
      const byType = new Map(processes.map((x, i) => [x.process_type, events[i] ?? []]));
      const body = assembleWhy({ envId: p.env, processes, scheduling, statuses, events: byType });
      return { status: 200, body };
    },
  });
}
