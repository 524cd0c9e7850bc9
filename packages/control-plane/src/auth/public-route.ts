import type { FastifyInstance, FastifyRequest } from "fastify";
import type { TSchema } from "typebox";

/** An endpoint that needs no bearer token: the token endpoints themselves. */
export interface PublicRouteSpec<B> {
  method: "POST";
  url: string;
  operationId: string;
  summary: string;
  tags: string[];
  body: TSchema;
  response?: Record<number, TSchema>;
  handler: (ctx: { body: B; request: FastifyRequest }) => Promise<{ status: number; body: unknown }>;
}

/**
 * Registers an unauthenticated endpoint with the same validation and error
 * conventions as the rest; the OpenAPI document marks it `security: []`.
 *
 * An Idempotency-Key is accepted but not replayed here: these endpoints
 * answer with fresh tokens, and replaying would mean storing them in plain
 * text. A retried request gets new tokens instead (a retried refresh, whose
 * token was already rotated, is refused as reuse — the RFC 6749 trade-off).
 */
export function addPublicRoute<B>(app: FastifyInstance, spec: PublicRouteSpec<B>): void {
  app.route({
    method: spec.method,
    url: spec.url,
    schema: {
      operationId: spec.operationId,
      summary: spec.summary,
      tags: spec.tags,
      security: [],
      body: spec.body,
      ...(spec.response ? { response: spec.response } : {}),
    },
    handler: async (request, reply) => {
      const result = await spec.handler({ body: request.body as B, request });
      // Tokens in the body: no cache may keep them (RFC 6749 §5.1).
      reply.header("cache-control", "no-store");
      return reply.code(result.status).send(result.body);
    },
  });
}
