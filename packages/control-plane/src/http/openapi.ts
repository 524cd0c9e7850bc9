import swagger from "@fastify/swagger";
import type { FastifyInstance } from "fastify";

/**
 * The OpenAPI 3.1 document, generated from the same route schemas that
 * validate requests, served unauthenticated at /v1/openapi.json. Register
 * before any route so that every route is collected.
 */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: { title: "plfm API", version },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    },
  });
  app.get("/v1/openapi.json", { schema: { hide: true } }, async () => app.swagger());
}
