import type { FastifyInstance } from "fastify";
import type { Static } from "typebox";
import { PageQuery, pageAfter, toPage } from "../http/pagination.ts";
import { addRoute, type RouteDeps } from "../http/route.ts";
import type { EnvPath } from "./reads.ts";
import { readApp, readEnv } from "./reads.ts";
import { createDeploy, createRelease } from "./release-commands.ts";
import { listDeploys, listReleases, readDeploy, readRelease } from "./release-reads.ts";
import {
  CreateDeployBody,
  CreateReleaseBody,
  CreateRollbackBody,
  Deploy,
  DeployParams,
  DeploysParams,
  Release,
  ReleaseParams,
  ReleasesParams,
} from "./release-schemas.ts";
import { commandCtx, written } from "./route-helpers.ts";

// A deploy's answer waits for the env's desired releases too, so an immediate
// GET E/status shows them.
const DEPLOY_PROJECTIONS = ["deploys", "env_desired_releases"];
const RELEASES_URL = "/v1/orgs/:org/apps/:app/releases";
const DEPLOYS_URL = "/v1/orgs/:org/apps/:app/envs/:env/deploys";

type AppPath = { org: string; app: string };

/** Releases of an app, and deploys and rollbacks of an env (spec platform.md §4.4). */
export function registerReleaseRoutes(app: FastifyInstance, deps: RouteDeps): void {
  addRoute<unknown, AppPath, Static<typeof PageQuery>>(app, deps, {
    tags: ["releases"],
    method: "GET",
    url: RELEASES_URL,
    operationId: "releases.list",
    summary: "The app's releases, by id",
    scope: "releases:read",
    params: ReleasesParams,
    querystring: PageQuery,
    handler: async (ctx) => {
      await readApp(deps.pool, ctx.params.org, ctx.params.app);
      const limit = ctx.query.limit ?? 50;
      const rows = await listReleases(deps.pool, ctx.params, pageAfter(ctx.query.cursor), limit);
      return { status: 200, body: toPage(rows, limit, (r) => r.release_id) };
    },
  });

  addRoute<Static<typeof CreateReleaseBody>, AppPath>(app, deps, {
    tags: ["releases"],
    method: "POST",
    url: RELEASES_URL,
    operationId: "releases.create",
    summary: "Create an immutable release (image digests + validated manifest)",
    scope: "releases:write",
    params: ReleasesParams,
    body: CreateReleaseBody,
    response: { 201: Release },
    handler: async (ctx) =>
      written(201, await createRelease(commandCtx(ctx), ctx.params.app, ctx.body), ["releases"]),
  });

  addRoute<unknown, AppPath & { release: string }>(app, deps, {
    tags: ["releases"],
    method: "GET",
    url: `${RELEASES_URL}/:release`,
    operationId: "releases.get",
    summary: "Read a release",
    scope: "releases:read",
    params: ReleaseParams,
    response: { 200: Release },
    handler: async (ctx) => ({ status: 200, body: await readRelease(deps.pool, ctx.params) }),
  });

  addRoute<unknown, EnvPath, Static<typeof PageQuery>>(app, deps, {
    tags: ["deploys"],
    method: "GET",
    url: DEPLOYS_URL,
    operationId: "deploys.list",
    summary: "The env's deploys and rollbacks, by id",
    scope: "releases:read",
    params: DeploysParams,
    querystring: PageQuery,
    handler: async (ctx) => {
      await readEnv(deps.pool, ctx.params);
      const limit = ctx.query.limit ?? 50;
      const rows = await listDeploys(deps.pool, ctx.params, pageAfter(ctx.query.cursor), limit);
      return { status: 200, body: toPage(rows, limit, (d) => d.deploy_id) };
    },
  });

  addRoute<Static<typeof CreateDeployBody>, EnvPath>(app, deps, {
    tags: ["deploys"],
    method: "POST",
    url: DEPLOYS_URL,
    operationId: "deploys.create",
    summary: "Deploy a release to the env (all its process types unless listed)",
    scope: "deploys:write",
    params: DeploysParams,
    body: CreateDeployBody,
    response: { 201: Deploy },
    handler: async (ctx) => {
      const path = { appId: ctx.params.app, envId: ctx.params.env };
      const r = await createDeploy(commandCtx(ctx), path, ctx.body, "deploy");
      return written(201, r, DEPLOY_PROJECTIONS);
    },
  });

  addRoute<unknown, EnvPath & { deploy: string }>(app, deps, {
    tags: ["deploys"],
    method: "GET",
    url: `${DEPLOYS_URL}/:deploy`,
    operationId: "deploys.get",
    summary: "Read a deploy",
    scope: "releases:read",
    params: DeployParams,
    response: { 200: Deploy },
    handler: async (ctx) => ({ status: 200, body: await readDeploy(deps.pool, ctx.params) }),
  });

  addRoute<Static<typeof CreateRollbackBody>, EnvPath>(app, deps, {
    tags: ["deploys"],
    method: "POST",
    url: "/v1/orgs/:org/apps/:app/envs/:env/rollbacks",
    operationId: "rollbacks.create",
    summary: "Roll the env's process types back to an earlier release (a deploy of kind rollback)",
    scope: "rollbacks:write",
    params: DeploysParams,
    body: CreateRollbackBody,
    response: { 201: Deploy },
    handler: async (ctx) => {
      const path = { appId: ctx.params.app, envId: ctx.params.env };
      const r = await createDeploy(commandCtx(ctx), path, ctx.body, "rollback");
      return written(201, r, DEPLOY_PROJECTIONS);
    },
  });
}
