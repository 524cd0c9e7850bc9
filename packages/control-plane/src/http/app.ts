import type { IncomingMessage } from "node:http";
import type { Logger } from "@plfm/kernel";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import type { ReadinessCheck } from "../readiness.ts";
import { PROBE_PATHS, registerHealthRoutes } from "./health.ts";
import type { ServerMetrics } from "./metrics.ts";
import { PROBLEM_CONTENT_TYPE, problem, problemFromError } from "./problem.ts";
import { requestIdFor } from "./request-id.ts";
import { installValidation } from "./validation.ts";

/** What the HTTP layer needs from the rest of the server. */
export interface AppOptions {
  logger: Logger;
  metrics: ServerMetrics;
  readiness: ReadinessCheck;
}

/**
 * Builds the API's fastify instance with the conventions every route shares:
 * request ids, RFC 7807 errors, request logs and metrics, and the health
 * routes. Domain routes are registered on the returned instance before it
 * listens (tests register their own the same way).
 */
export function buildApp(options: AppOptions): FastifyInstance {
  const app = Fastify({
    // Typed as fastify's base logger so the instance is a plain FastifyInstance for route modules.
    loggerInstance: options.logger.child({ component: "control-plane" }) as FastifyBaseLogger,
    // We validate the incoming X-Request-Id ourselves instead of trusting it blindly.
    requestIdHeader: false,
    genReqId: (req: IncomingMessage) => requestIdFor(req.headers["x-request-id"]),
    // One line per request, written in onResponse below, instead of fastify's two.
    logController: new LogController({ requestIdLogLabel: "request_id", disableRequestLogging: true }),
  });

  installValidation(app);

  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });

  app.addHook("onResponse", async (request, reply) => {
    const template = request.routeOptions.url ?? "unmatched";
    const status = reply.statusCode;
    const seconds = reply.elapsedTime / 1000;
    options.metrics.httpRequests.inc({
      method: request.method,
      path_template: template,
      status: String(status),
    });
    options.metrics.httpDuration.observe({ method: request.method, path_template: template }, seconds);
    // Never headers (Authorization, cookies) and never the query string: both can carry credentials.
    const path = request.url.split("?", 1)[0];
    const line = {
      method: request.method,
      path,
      route: template,
      status,
      duration_ms: Math.round(seconds * 1e4) / 10,
    };
    if (PROBE_PATHS.has(template) && status < 500) request.log.debug(line, "request completed");
    else request.log.info(line, "request completed");
  });

  app.setErrorHandler((err, request, reply) => {
    const p = problemFromError(err, request.id);
    if (p.serverFault) request.log.error({ err, error_code: p.body.code }, "request failed");
    else request.log.debug({ error_code: p.body.code, detail: p.body.detail }, "request rejected");
    return reply.code(p.status).headers(p.headers).type(PROBLEM_CONTENT_TYPE).send(p.body);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?", 1)[0];
    const p = problem("not_found", `No route for ${request.method} ${path}.`, request.id);
    return reply.code(p.status).type(PROBLEM_CONTENT_TYPE).send(p.body);
  });

  registerHealthRoutes(app, { readiness: options.readiness, metrics: options.metrics });
  return app;
}
