import type { FastifyInstance } from "fastify";
import type { Static } from "typebox";
import { PageQuery, pageAfter, toPage } from "../http/pagination.ts";
import { addRoute, type RouteDeps } from "../http/route.ts";
import type { EnvView } from "./env.ts";
import { createEnv, deleteEnv, setScale, updateEnv } from "./env-commands.ts";
import { ENV_COLUMNS, type EnvPath, type EnvRow, readApp, readEnv, readScale, toView } from "./reads.ts";
import { commandCtx, written } from "./route-helpers.ts";
import {
  CreateEnvBody,
  Env,
  EnvParams,
  EnvStatus,
  EnvsParams,
  PatchEnvBody,
  PutScaleBody,
  Scale,
} from "./schemas.ts";
import { envHealth } from "./status.ts";
import { readEnvStatusParts } from "./status-reads.ts";

const ENV_PROJECTIONS = ["envs", "env_scale"];
const SCALE_PROJECTIONS = ["env_scale"];
const ENV_URL = "/v1/orgs/:org/apps/:app/envs/:env";

/** Envs of an app, an env's scale, and its status (spec platform.md §4.4, §4.6). */
export function registerEnvRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const common = { tags: ["envs"] };

  addRoute<unknown, Static<typeof EnvsParams>, Static<typeof PageQuery>>(app, deps, {
    ...common,
    method: "GET",
    url: "/v1/orgs/:org/apps/:app/envs",
    operationId: "envs.list",
    summary: "The app's envs, by id",
    scope: "envs:read",
    params: EnvsParams,
    querystring: PageQuery,
    handler: async (ctx) => {
      await readApp(deps.pool, ctx.params.org, ctx.params.app);
      const limit = ctx.query.limit ?? 50;
      const { rows } = await deps.pool.query<EnvRow>(
        `SELECT ${ENV_COLUMNS} FROM envs
          WHERE app_id = $1 AND org_id = $2 AND NOT is_deleted AND env_id > $3 ORDER BY env_id LIMIT $4`,
        [ctx.params.app, ctx.params.org, pageAfter(ctx.query.cursor), limit + 1],
      );
      return {
        status: 200,
        body: toPage(
          rows.map((r) => toView<EnvView>(r)),
          limit,
          (e) => e.env_id,
        ),
      };
    },
  });

  addRoute<Static<typeof CreateEnvBody>, Static<typeof EnvsParams>>(app, deps, {
    ...common,
    method: "POST",
    url: "/v1/orgs/:org/apps/:app/envs",
    operationId: "envs.create",
    summary: "Create an env of an app",
    scope: "envs:write",
    params: EnvsParams,
    body: CreateEnvBody,
    response: { 201: Env },
    handler: async (ctx) =>
      written(201, await createEnv(commandCtx(ctx), ctx.params.app, ctx.body), ENV_PROJECTIONS),
  });

  addRoute<unknown, EnvPath>(app, deps, {
    ...common,
    method: "GET",
    url: ENV_URL,
    operationId: "envs.get",
    summary: "Read an env",
    scope: "envs:read",
    params: EnvParams,
    response: { 200: Env },
    handler: async (ctx) => ({ status: 200, body: await readEnv(deps.pool, ctx.params) }),
  });

  addRoute<Static<typeof PatchEnvBody>, EnvPath>(app, deps, {
    ...common,
    method: "PATCH",
    url: ENV_URL,
    operationId: "envs.update",
    summary: "Rename an env",
    scope: "envs:write",
    params: EnvParams,
    body: PatchEnvBody,
    response: { 200: Env },
    handler: async (ctx) =>
      written(
        200,
        await updateEnv(commandCtx(ctx), ctx.params.app, ctx.params.env, ctx.body),
        ENV_PROJECTIONS,
      ),
  });

  addRoute<unknown, EnvPath>(app, deps, {
    ...common,
    method: "DELETE",
    url: ENV_URL,
    operationId: "envs.delete",
    summary: "Delete an env (refused while it has routes, volume attachments or IPv4)",
    scope: "envs:write",
    params: EnvParams,
    handler: async (ctx) =>
      written(204, await deleteEnv(commandCtx(ctx), ctx.params.app, ctx.params.env), ENV_PROJECTIONS),
  });

  addRoute<unknown, EnvPath>(app, deps, {
    ...common,
    method: "GET",
    url: `${ENV_URL}/scale`,
    operationId: "envs.scale.get",
    summary: "Desired instance counts per process type",
    scope: "envs:read",
    params: EnvParams,
    response: { 200: Scale },
    handler: async (ctx) => ({ status: 200, body: await readScale(deps.pool, ctx.params) }),
  });

  addRoute<Static<typeof PutScaleBody>, EnvPath>(app, deps, {
    ...common,
    method: "PUT",
    url: `${ENV_URL}/scale`,
    operationId: "envs.scale.set",
    summary: "Set desired counts for the listed process types (others keep theirs)",
    scope: "envs:write",
    params: EnvParams,
    body: PutScaleBody,
    response: { 200: Scale },
    handler: async (ctx) =>
      written(
        200,
        await setScale(commandCtx(ctx), ctx.params.app, ctx.params.env, ctx.body),
        SCALE_PROJECTIONS,
      ),
  });

  addRoute<unknown, EnvPath>(app, deps, {
    ...common,
    method: "GET",
    url: `${ENV_URL}/status`,
    operationId: "envs.status",
    summary: "Desired against current, per process type",
    scope: "envs:read",
    params: EnvParams,
    response: { 200: EnvStatus },
    handler: async (ctx) => {
      const parts = await readEnvStatusParts(deps.pool, ctx.params, deps.now());
      return { status: 200, body: { ...parts, status: envHealth(parts.processes) } };
    },
  });
}
