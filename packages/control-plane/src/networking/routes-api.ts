// HTTP: E/routes (spec platform.md §8.4), E = /v1/orgs/{org}/apps/{app}/envs/{env}.
import { KernelError } from "@plfm/kernel";
import type { FastifyInstance } from "fastify";
import type { Static } from "typebox";
import { PageQuery, pageAfter, toPage } from "../http/pagination.ts";
import { addRoute, type RouteContext, type RouteDeps } from "../http/route.ts";
import { envIsLive, envNotFound, type NetCtx } from "./command.ts";
import { requireHostname } from "./hostname.ts";
import { FORBIDDEN_PORTS } from "./ports.ts";
import { checkProxyProtocol, type RouteFields, type RouteView, rejectImmutable } from "./route.ts";
import { createRoute, deleteRoute, updateRoute } from "./route-commands.ts";
import { CreateRouteBody, EnvParams, PatchRouteBody, Route, RoutePage, RouteParams } from "./schemas.ts";

export const E = "/v1/orgs/:org/apps/:app/envs/:env";
const ROUTE_PROJECTIONS = ["routes"];

type Params = Static<typeof EnvParams>;

/** The command context of a request on E. */
export function netCtx(ctx: RouteContext<unknown, Params, unknown>, app: FastifyInstance): NetCtx {
  return {
    pool: ctx.deps.pool,
    principal: ctx.principal,
    owner: { orgId: ctx.params.org, appId: ctx.params.app, envId: ctx.params.env },
    idempotency: ctx.idempotency,
    requestId: ctx.requestId,
    now: ctx.deps.now(),
    log: app.log,
  };
}

const COLUMNS = `route_id, org_id, app_id, env_id, hostname, listen_port, protocol_hint, backend_process_type,
  backend_port, proxy_protocol, backend_expects_proxy_protocol, ipv4_required, resource_version,
  created_at, updated_at`;
type RouteRow = Omit<RouteView, "created_at" | "updated_at"> & { created_at: Date; updated_at: Date };
const toView = (r: RouteRow): RouteView => ({
  ...r,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
});

/** The create body's rules beyond the schema, in the order a client would fix them. */
function createFields(body: Static<typeof CreateRouteBody>): RouteFields {
  const hostname = requireHostname(body.hostname);
  if (FORBIDDEN_PORTS.has(body.listen_port)) {
    throw new KernelError("invalid_argument", `Port ${body.listen_port} is never served by the edge.`, {
      details: [
        { field: "listen_port", code: "forbidden_port", message: "ports 23, 25 and 137–139 are not allowed" },
      ],
    });
  }
  const fields: RouteFields = {
    hostname,
    listen_port: body.listen_port,
    protocol_hint: body.protocol_hint,
    backend_process_type: body.backend_process_type,
    backend_port: body.backend_port,
    proxy_protocol: body.proxy_protocol ?? "off",
    backend_expects_proxy_protocol: body.backend_expects_proxy_protocol ?? false,
    ipv4_required: body.ipv4_required ?? false,
  };
  checkProxyProtocol(fields);
  // TODO(releases): backend_port must be a declared port of backend_process_type in the env's
  // desired release (spec §8.4, 400 invalid_argument); releases do not exist yet.
  return fields;
}

/** Routes: create, list, read, change the backend side, delete. */
export function registerRouteRoutes(app: FastifyInstance, deps: RouteDeps): void {
  addRoute<Static<typeof CreateRouteBody>, Params>(app, deps, {
    method: "POST",
    url: `${E}/routes`,
    operationId: "routes.create",
    summary: "Create a route: a hostname and port on the edge to a process's port",
    tags: ["routes"],
    scope: "routes:write",
    params: EnvParams,
    body: CreateRouteBody,
    response: { 201: Route },
    handler: async (ctx) => {
      const fields = createFields(ctx.body);
      const r = await createRoute(netCtx(ctx, app), fields);
      return {
        status: 201,
        body: r.response,
        replayed: r.replayed,
        wait: { position: r.position, projections: ROUTE_PROJECTIONS },
      };
    },
  });

  addRoute<unknown, Params, Static<typeof PageQuery>>(app, deps, {
    method: "GET",
    url: `${E}/routes`,
    operationId: "routes.list",
    summary: "The env's routes",
    tags: ["routes"],
    scope: "routes:read",
    params: EnvParams,
    querystring: PageQuery,
    response: { 200: RoutePage },
    handler: async (ctx) => {
      const { org, app: appId, env } = ctx.params;
      if (!(await envIsLive(deps.pool, { orgId: org, appId, envId: env }))) throw envNotFound();
      const limit = ctx.query.limit ?? 50;
      const { rows } = await deps.pool.query<RouteRow>(
        `SELECT ${COLUMNS} FROM routes
          WHERE env_id = $1 AND app_id = $2 AND org_id = $3 AND NOT is_deleted AND route_id > $4
          ORDER BY route_id LIMIT $5`,
        [env, appId, org, pageAfter(ctx.query.cursor), limit + 1],
      );
      return { status: 200, body: toPage(rows.map(toView), limit, (r) => r.route_id) };
    },
  });

  addRoute<unknown, Static<typeof RouteParams>>(app, deps, {
    method: "GET",
    url: `${E}/routes/:route`,
    operationId: "routes.get",
    summary: "Read a route",
    tags: ["routes"],
    scope: "routes:read",
    params: RouteParams,
    response: { 200: Route },
    handler: async (ctx) => {
      const { org, app: appId, env, route } = ctx.params;
      const { rows } = await deps.pool.query<RouteRow>(
        `SELECT ${COLUMNS} FROM routes
          WHERE route_id = $1 AND env_id = $2 AND app_id = $3 AND org_id = $4 AND NOT is_deleted`,
        [route, env, appId, org],
      );
      const row = rows[0];
      if (!row) throw new KernelError("not_found", "No such route in this env.");
      return { status: 200, body: toView(row) };
    },
  });

  addRoute<Static<typeof PatchRouteBody>, Static<typeof RouteParams>>(app, deps, {
    method: "PATCH",
    url: `${E}/routes/:route`,
    operationId: "routes.update",
    summary: "Change a route's backend, PROXY protocol or IPv4 requirement (hostname and port are fixed)",
    tags: ["routes"],
    scope: "routes:write",
    params: RouteParams,
    body: PatchRouteBody,
    response: { 200: Route },
    handler: async (ctx) => {
      rejectImmutable(ctx.body);
      const { hostname: _h, listen_port: _l, protocol_hint: _p, ...change } = ctx.body;
      const r = await updateRoute(netCtx(ctx, app), ctx.params.route, change);
      return {
        status: 200,
        body: r.response,
        replayed: r.replayed,
        wait: { position: r.position, projections: ROUTE_PROJECTIONS },
      };
    },
  });

  addRoute<unknown, Static<typeof RouteParams>>(app, deps, {
    method: "DELETE",
    url: `${E}/routes/:route`,
    operationId: "routes.delete",
    summary: "Delete a route; its hostname is free again at once",
    tags: ["routes"],
    scope: "routes:write",
    params: RouteParams,
    handler: async (ctx) => {
      const r = await deleteRoute(netCtx(ctx, app), ctx.params.route);
      return {
        status: 204,
        replayed: r.replayed,
        wait: { position: r.position, projections: ROUTE_PROJECTIONS },
      };
    },
  });
}
