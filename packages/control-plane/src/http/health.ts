import type { FastifyInstance } from "fastify";
import type { ReadinessCheck } from "../readiness.ts";
import type { ServerMetrics } from "./metrics.ts";
import { PROBLEM_CONTENT_TYPE, problem } from "./problem.ts";

/** Paths probed by orchestrators and scrapers; logged at debug level so they do not drown the log. */
export const PROBE_PATHS = new Set(["/healthz", "/livez", "/readyz", "/metrics"]);

/**
 * The unauthenticated operational endpoints (spec platform.md §4.1).
 * `/healthz` and `/livez` say only that the process answers; `/readyz` also
 * asks the database, so a load balancer stops sending traffic a replica
 * cannot serve without restarting a process that is otherwise fine.
 */
export function registerHealthRoutes(
  app: FastifyInstance,
  deps: { readiness: ReadinessCheck; metrics: ServerMetrics },
): void {
  const ok = async () => ({ status: "ok" });
  app.get("/healthz", ok);
  app.get("/livez", ok);

  app.get("/readyz", async (request, reply) => {
    const r = await deps.readiness();
    if (r.ready) return { status: "ok" };
    const p = problem("unavailable", `not ready: ${r.detail}`, request.id);
    return reply.code(p.status).headers(p.headers).type(PROBLEM_CONTENT_TYPE).send(p.body);
  });

  app.get("/metrics", async (_request, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(text);
  });
}
