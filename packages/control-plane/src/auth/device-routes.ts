import { KernelError } from "@plfm/kernel";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { type Static, Type } from "typebox";
import { addRoute, type RouteDeps } from "../http/route.ts";
import { normaliseUserCode, POLL_INTERVAL_SECONDS } from "./device-flow.ts";
import { DEVICE_PAGE_HEADERS, devicePage } from "./device-page.ts";
import { approveDevice, pollDevice, startDevice } from "./device-store.ts";
import { addPublicRoute } from "./public-route.ts";
import { RateLimiter } from "./rate-limit.ts";
import { DeviceCode, GRANTABLE_SCOPES, ScopeList, TokenPairResponse } from "./schemas.ts";

const StartBody = Type.Object(
  { client_name: Type.String({ minLength: 1, maxLength: 128 }), scopes: Type.Optional(ScopeList) },
  { additionalProperties: false },
);
const PollBody = Type.Object({ device_code: DeviceCode }, { additionalProperties: false });
// Users type the code: any case, the dash optional; the handler normalises it.
const ApproveBody = Type.Object(
  {
    user_code: Type.String({ pattern: "^[A-Za-z]{4}-?[0-9]{4}$" }),
    decision: Type.Enum(["approve", "deny"]),
  },
  { additionalProperties: false },
);

/** Spec §4.5: device start 10/min per IP. */
export const DEVICE_START_LIMIT_PER_MINUTE = 10;
/**
 * Device polling per IP. The per-code pace is `slow_down`; this bounds one
 * address polling many codes (guessing device codes, or a runaway script):
 * sixty codes at the 5 s interval.
 */
export const DEVICE_POLL_LIMIT_PER_MINUTE = 720;

function limitedByIp(limiter: RateLimiter, request: FastifyRequest, what: string): void {
  const wait = limiter.hit(request.ip);
  if (wait > 0) {
    throw new KernelError("rate_limited", `Too many ${what} from this address; retry later.`, {
      extra: { retry_after_seconds: wait },
    });
  }
}

/** Where users are sent to approve: PLFM_PUBLIC_URL, else the URL this request came to. */
function baseUrlOf(request: FastifyRequest, deps: RouteDeps): string {
  return deps.publicUrl ?? `${request.protocol}://${request.host}`;
}

/** The device-authorization flow (spec §4.5): start, poll, approve, and the approval page. */
export function registerDeviceRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const startLimit = new RateLimiter(DEVICE_START_LIMIT_PER_MINUTE, 60_000);
  const pollLimit = new RateLimiter(DEVICE_POLL_LIMIT_PER_MINUTE, 60_000);
  addPublicRoute<Static<typeof StartBody>>(app, {
    method: "POST",
    url: "/v1/auth/device/start",
    operationId: "auth.device.start",
    summary: "Start a device sign-in: a device code to poll with and a user code to approve",
    tags: ["auth"],
    body: StartBody,
    response: {
      200: Type.Object({
        device_code: Type.String(),
        user_code: Type.String(),
        verification_uri: Type.String(),
        verification_uri_complete: Type.String(),
        expires_in_seconds: Type.Integer(),
        poll_interval_seconds: Type.Integer({ minimum: POLL_INTERVAL_SECONDS }),
      }),
    },
    handler: async ({ body, request }) => {
      limitedByIp(startLimit, request, "device sign-ins");
      return {
        status: 200,
        body: await startDevice(
          deps.pool,
          { clientName: body.client_name, scopes: body.scopes ?? GRANTABLE_SCOPES },
          baseUrlOf(request, deps),
          deps.now(),
        ),
      };
    },
  });

  addPublicRoute<Static<typeof PollBody>>(app, {
    method: "POST",
    url: "/v1/auth/device/token",
    operationId: "auth.device.token",
    summary: "Poll a device sign-in: tokens once approved, else authorization_pending / slow_down / …",
    tags: ["auth"],
    body: PollBody,
    response: { 200: TokenPairResponse },
    handler: async ({ body, request }) => {
      limitedByIp(pollLimit, request, "device polls");
      return { status: 200, body: await pollDevice(deps.pool, body.device_code, deps.now()) };
    },
  });

  addRoute<Static<typeof ApproveBody>>(app, deps, {
    method: "POST",
    url: "/v1/auth/device/approve",
    operationId: "auth.device.approve",
    summary: "Approve or deny a device sign-in by its user code (a user token is required)",
    tags: ["auth"],
    scope: null,
    body: ApproveBody,
    response: {
      200: Type.Object({ user_code: Type.String(), status: Type.String(), client_name: Type.String() }),
    },
    handler: async (ctx) => {
      // A code with I, L, O, 0 or 1 was never issued: as unknown as any other.
      const userCode = normaliseUserCode(ctx.body.user_code);
      if (userCode === null) throw new KernelError("not_found", "No device request has this code.");
      const r = await approveDevice(deps.pool, ctx.principal, userCode, ctx.body.decision, deps.now());
      return { status: 200, body: r };
    },
  });

  app.get("/device", { schema: { hide: true } }, async (_request, reply) =>
    reply.headers(DEVICE_PAGE_HEADERS).type("text/html; charset=utf-8").send(devicePage),
  );
}
