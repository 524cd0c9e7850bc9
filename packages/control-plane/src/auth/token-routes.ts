import { KernelError } from "@plfm/kernel";
import type { FastifyInstance } from "fastify";
import { type Static, Type } from "typebox";
import type { RouteDeps } from "../http/route.ts";
import { clientCredentialsToken } from "./client-credentials.ts";
import { addPublicRoute } from "./public-route.ts";
import { RateLimiter } from "./rate-limit.ts";
import { AccessToken, RefreshToken, ScopeList, TokenPairResponse } from "./schemas.ts";
import { refreshTokens, revokeTokens } from "./token-store.ts";

// grant_type is checked in the handler, so that another grant answers
// `unsupported_grant_type` rather than a schema error about missing fields.
const TokenBody = Type.Object(
  {
    grant_type: Type.String({ minLength: 1, maxLength: 64 }),
    client_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    client_secret: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    scopes: Type.Optional(ScopeList),
  },
  { additionalProperties: false },
);
const RefreshBody = Type.Object({ refresh_token: RefreshToken }, { additionalProperties: false });
const RevokeBody = Type.Object(
  { refresh_token: Type.Optional(RefreshToken), access_token: Type.Optional(AccessToken) },
  { additionalProperties: false, minProperties: 1 },
);

/** Spec §4.5: token mint 60/min per subject (here: per client_id, counted before the secret is checked). */
export const CLIENT_TOKEN_LIMIT_PER_MINUTE = 60;

/** POST /v1/auth/token (client credentials), /token/refresh, /token/revoke. */
export function registerTokenRoutes(app: FastifyInstance, deps: RouteDeps): void {
  // Each argon2id check costs 50–250 ms of CPU; the limit also caps what guessing can burn.
  const mintLimit = new RateLimiter(CLIENT_TOKEN_LIMIT_PER_MINUTE, 60_000);
  addPublicRoute<Static<typeof TokenBody>>(app, {
    method: "POST",
    url: "/v1/auth/token",
    operationId: "auth.token",
    summary: "Client credentials: a service principal's 15-minute token for its org",
    tags: ["auth"],
    body: TokenBody,
    response: {
      200: Type.Object({
        access_token: Type.String(),
        expires_in_seconds: Type.Integer(),
        scopes: Type.Array(Type.String()),
      }),
    },
    handler: async ({ body }) => {
      if (body.grant_type !== "client_credentials") {
        throw new KernelError("unsupported_grant_type", "Only grant_type client_credentials is supported.", {
          details: [{ field: "grant_type", code: "unsupported", message: "must be client_credentials" }],
        });
      }
      const missing = (["client_id", "client_secret"] as const).filter((f) => body[f] === undefined);
      if (missing.length > 0) {
        throw new KernelError("invalid_argument", "client_credentials needs client_id and client_secret.", {
          details: missing.map((field) => ({ field, code: "required", message: "is required" })),
        });
      }
      const wait = mintLimit.hit(body.client_id as string);
      if (wait > 0) {
        throw new KernelError("rate_limited", "Too many token requests for this client; retry later.", {
          extra: { retry_after_seconds: wait },
        });
      }
      const token = await clientCredentialsToken(
        deps.pool,
        {
          clientId: body.client_id as string,
          clientSecret: body.client_secret as string,
          scopes: body.scopes,
        },
        deps.now(),
      );
      return { status: 200, body: token };
    },
  });

  addPublicRoute<Static<typeof RefreshBody>>(app, {
    method: "POST",
    url: "/v1/auth/token/refresh",
    operationId: "auth.token.refresh",
    summary: "Trade a refresh token for a new pair; the old one is retired",
    tags: ["auth"],
    body: RefreshBody,
    response: { 200: TokenPairResponse },
    handler: async ({ body }) => ({
      status: 200,
      body: await refreshTokens(deps.pool, body.refresh_token, deps.now()),
    }),
  });

  addPublicRoute<Static<typeof RevokeBody>>(app, {
    method: "POST",
    url: "/v1/auth/token/revoke",
    operationId: "auth.token.revoke",
    summary: "Revoke an access token, or a refresh token with its whole chain",
    tags: ["auth"],
    body: RevokeBody,
    response: { 200: Type.Object({ ok: Type.Boolean() }) },
    handler: async ({ body }) => {
      await revokeTokens(deps.pool, body, deps.now());
      return { status: 200, body: { ok: true } };
    },
  });
}
