import { type EventFilter, serveSse, sseStart } from "@plfm/kernel";
import type { FastifyInstance } from "fastify";
import type { TSchema } from "typebox";
import type { Scope } from "../auth/scopes.ts";
import { authorizeRequest, type RouteDeps } from "../http/route.ts";

export interface StreamRouteSpec<P, Q> {
  url: string;
  operationId: string;
  summary: string;
  tags: string[];
  scope: Scope;
  params?: TSchema;
  querystring?: TSchema;
  /** The stream's filter, from the validated params and query. */
  filter: (params: P, query: Q) => EventFilter;
  /** Heartbeat period (tests shorten it). */
  heartbeatMs?: number;
}

/**
 * Registers an SSE change-feed endpoint. Authentication, org membership,
 * scope and the start cursor are all checked before the reply is hijacked,
 * so every refusal is the usual problem+json from the app's error handler;
 * only then does the kernel's serveSse take over the raw socket.
 */
export function addStreamRoute<P = unknown, Q = unknown>(
  app: FastifyInstance,
  deps: RouteDeps,
  spec: StreamRouteSpec<P, Q>,
): void {
  app.route({
    method: "GET",
    url: spec.url,
    schema: {
      operationId: spec.operationId,
      summary: spec.summary,
      tags: spec.tags,
      security: [{ bearer: [spec.scope] }],
      produces: ["text/event-stream"],
      ...(spec.params ? { params: spec.params } : {}),
      ...(spec.querystring ? { querystring: spec.querystring } : {}),
    },
    // Before validation, as every route: anonymous and foreign callers learn nothing from a 400.
    preValidation: async (request) => {
      await authorizeRequest(deps, request, spec.scope);
    },
    handler: async (request, reply) => {
      // Throws invalid_cursor while the error handler can still answer.
      sseStart(request.raw);
      const filter = spec.filter(request.params as P, request.query as Q);
      reply.hijack();
      reply.raw.setHeader("x-request-id", request.id);
      await serveSse(request.raw, reply.raw, {
        hub: deps.kernel.hub,
        filter,
        ...(spec.heartbeatMs !== undefined ? { heartbeatMs: spec.heartbeatMs } : {}),
      });
    },
  });
}
