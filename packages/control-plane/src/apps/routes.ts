import type { FastifyInstance } from "fastify";
import type { Static } from "typebox";
import { PageQuery, pageAfter, toPage } from "../http/pagination.ts";
import { addRoute, type RouteDeps } from "../http/route.ts";
import type { AppView } from "./app.ts";
import { createApp, deleteApp, updateApp } from "./commands.ts";
import { APP_COLUMNS, type AppRow, readApp, toView } from "./reads.ts";
import { commandCtx, written } from "./route-helpers.ts";
import { App, AppParams, CreateAppBody, OrgParams, PatchAppBody } from "./schemas.ts";

const APP_PROJECTIONS = ["apps"];

/** Apps (spec platform.md §4.4): list, create, read, update, delete. */
export function registerAppsRoutes(app: FastifyInstance, deps: RouteDeps): void {
  addRoute<unknown, { org: string }, Static<typeof PageQuery>>(app, deps, {
    method: "GET",
    url: "/v1/orgs/:org/apps",
    operationId: "apps.list",
    summary: "The org's apps, by id",
    tags: ["apps"],
    scope: "apps:read",
    params: OrgParams,
    querystring: PageQuery,
    handler: async (ctx) => {
      const limit = ctx.query.limit ?? 50;
      const { rows } = await deps.pool.query<AppRow>(
        `SELECT ${APP_COLUMNS} FROM apps WHERE org_id = $1 AND NOT is_deleted AND app_id > $2
          ORDER BY app_id LIMIT $3`,
        [ctx.params.org, pageAfter(ctx.query.cursor), limit + 1],
      );
      return {
        status: 200,
        body: toPage(
          rows.map((r) => toView<AppView>(r)),
          limit,
          (a) => a.app_id,
        ),
      };
    },
  });

  addRoute<Static<typeof CreateAppBody>, { org: string }>(app, deps, {
    method: "POST",
    url: "/v1/orgs/:org/apps",
    operationId: "apps.create",
    summary: "Create an app",
    tags: ["apps"],
    scope: "apps:write",
    params: OrgParams,
    body: CreateAppBody,
    response: { 201: App },
    handler: async (ctx) => written(201, await createApp(commandCtx(ctx), ctx.body), APP_PROJECTIONS),
  });

  addRoute<unknown, Static<typeof AppParams>>(app, deps, {
    method: "GET",
    url: "/v1/orgs/:org/apps/:app",
    operationId: "apps.get",
    summary: "Read an app",
    tags: ["apps"],
    scope: "apps:read",
    params: AppParams,
    response: { 200: App },
    handler: async (ctx) => ({ status: 200, body: await readApp(deps.pool, ctx.params.org, ctx.params.app) }),
  });

  addRoute<Static<typeof PatchAppBody>, Static<typeof AppParams>>(app, deps, {
    method: "PATCH",
    url: "/v1/orgs/:org/apps/:app",
    operationId: "apps.update",
    summary: "Rename an app, or set its description or project",
    tags: ["apps"],
    scope: "apps:write",
    params: AppParams,
    body: PatchAppBody,
    response: { 200: App },
    handler: async (ctx) =>
      written(200, await updateApp(commandCtx(ctx), ctx.params.app, ctx.body), APP_PROJECTIONS),
  });

  addRoute<unknown, Static<typeof AppParams>>(app, deps, {
    method: "DELETE",
    url: "/v1/orgs/:org/apps/:app",
    operationId: "apps.delete",
    summary: "Delete an app (refused while it has envs)",
    tags: ["apps"],
    scope: "apps:write",
    params: AppParams,
    handler: async (ctx) => written(204, await deleteApp(commandCtx(ctx), ctx.params.app), APP_PROJECTIONS),
  });
}
