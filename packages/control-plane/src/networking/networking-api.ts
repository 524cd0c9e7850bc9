// HTTP: E/networking and the IPv4 add-on (spec platform.md §8.6).
import { KernelError } from "@plfm/kernel";
import type { FastifyInstance } from "fastify";
import type { Static } from "typebox";
import { addRoute, type RouteDeps } from "../http/route.ts";
import { envIsLive, envNotFound } from "./command.ts";
import type { EnvNetworkingView } from "./ipv4.ts";
import { disableIpv4, enableIpv4 } from "./ipv4-commands.ts";
import { E, netCtx } from "./routes-api.ts";
import { DisableIpv4Query, EnvNetworking, EnvParams } from "./schemas.ts";

const NETWORKING_PROJECTIONS = ["env_networking"];
type Params = Static<typeof EnvParams>;

/**
 * POST …/ipv4 takes no fields. A body schema would refuse the usual bodiless
 * POST ("must be object"), so the check is here: none, or `{}`.
 */
function requireNoFields(body: unknown): void {
  if (body === undefined || body === null) return;
  const keys = typeof body === "object" && !Array.isArray(body) ? Object.keys(body) : null;
  if (keys !== null && keys.length === 0) return;
  throw new KernelError("invalid_argument", "This request takes no body fields.", {
    details: (keys ?? ["body"]).map((field) => ({
      field,
      code: "additionalProperties",
      message: "must NOT have additional properties",
    })),
  });
}

/** GET E/networking; POST and DELETE E/networking/ipv4. */
export function registerNetworkingRoutes(app: FastifyInstance, deps: RouteDeps): void {
  addRoute<unknown, Params>(app, deps, {
    method: "GET",
    url: `${E}/networking`,
    operationId: "networking.get",
    summary: "The env's networking: its IPv4 add-on",
    tags: ["networking"],
    scope: "envs:read",
    params: EnvParams,
    response: { 200: EnvNetworking },
    handler: async (ctx) => {
      const { org, app: appId, env } = ctx.params;
      if (!(await envIsLive(deps.pool, { orgId: org, appId, envId: env }))) throw envNotFound();
      const { rows } = await deps.pool.query<EnvNetworkingView>(
        `SELECT env_id, ipv4_enabled, ipv4_address, ipv4_allocation_id FROM env_networking
          WHERE env_id = $1 AND org_id = $2`,
        [env, org],
      );
      const body: EnvNetworkingView = rows[0] ?? {
        env_id: env,
        ipv4_enabled: false,
        ipv4_address: null,
        ipv4_allocation_id: null,
      };
      return { status: 200, body };
    },
  });

  addRoute<unknown, Params>(app, deps, {
    method: "POST",
    url: `${E}/networking/ipv4`,
    operationId: "networking.ipv4.enable",
    summary: "Enable the IPv4 add-on: a dedicated address from the operator's pool",
    tags: ["networking"],
    scope: "envs:write",
    params: EnvParams,
    response: { 200: EnvNetworking },
    handler: async (ctx) => {
      requireNoFields(ctx.body);
      const r = await enableIpv4(netCtx(ctx, app), deps.ipv4Pool ?? []);
      return {
        status: 200,
        body: r.response,
        replayed: r.replayed,
        wait: { position: r.position, projections: NETWORKING_PROJECTIONS },
      };
    },
  });

  addRoute<unknown, Params, Static<typeof DisableIpv4Query>>(app, deps, {
    method: "DELETE",
    url: `${E}/networking/ipv4`,
    operationId: "networking.ipv4.disable",
    summary: "Disable the IPv4 add-on and release the address",
    tags: ["networking"],
    scope: "envs:write",
    params: EnvParams,
    querystring: DisableIpv4Query,
    handler: async (ctx) => {
      const force = ctx.query.force === true;
      if (force && !ctx.org?.scopes.has("nodes:admin")) {
        throw new KernelError("insufficient_scope", "force=true is for operators (nodes:admin).", {
          extra: { required_scope: "nodes:admin" },
        });
      }
      const r = await disableIpv4(netCtx(ctx, app), force);
      return {
        status: 204,
        replayed: r.replayed,
        wait: { position: r.position, projections: NETWORKING_PROJECTIONS },
      };
    },
  });
}
