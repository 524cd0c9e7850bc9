// Volumes (org-scoped) and volume attachments (env-scoped) over HTTP
// (spec platform.md §4.4); snapshots and restores are in snapshot-routes.ts.
import type { FastifyInstance } from "fastify";
import type { Static } from "typebox";
import { PageQuery } from "../http/pagination.ts";
import { addRoute, type RouteContext, type RouteDeps, written } from "../http/route.ts";
import type { EnvRef } from "./attachment.ts";
import { createAttachment, deleteAttachment } from "./attachment-commands.ts";
import type { StorageCtx } from "./command-kit.ts";
import { envIsLive, envNotFound } from "./guards.ts";
import { listAttachments, listVolumes, readVolume } from "./reads.ts";
import {
  Attachment,
  AttachmentParams,
  CreateAttachmentBody,
  CreateVolumeBody,
  EnvParams,
  OrgParams,
  PageOf,
  Volume,
  VolumeParams,
} from "./schemas.ts";
import { registerSnapshotRoutes } from "./snapshot-routes.ts";
import { createVolume, deleteVolume } from "./volume-commands.ts";

const VOLUME_PROJECTIONS = ["volumes"];
const ATTACHMENT_PROJECTIONS = ["volume_attachments"];
const ENV_URL = "/v1/orgs/:org/apps/:app/envs/:env";

/** A storage command's context from a request; `scope` narrows the idempotency key's scope. */
export function storageCtx(ctx: RouteContext<unknown, unknown, unknown>, scope?: string): StorageCtx {
  const idem = ctx.idempotency;
  return {
    pool: ctx.deps.pool,
    actor: { type: ctx.principal.type, id: ctx.principal.id },
    idempotency: idem && scope !== undefined ? { ...idem, scope: `${idem.scope}:${scope}` } : idem,
    requestId: ctx.requestId,
    now: ctx.deps.now(),
  };
}

export { written };

const envOf = (p: { org: string; app: string; env: string }): EnvRef => ({
  orgId: p.org,
  appId: p.app,
  envId: p.env,
});

export function registerStorageRoutes(app: FastifyInstance, deps: RouteDeps): void {
  registerVolumeRoutes(app, deps);
  registerAttachmentRoutes(app, deps);
  registerSnapshotRoutes(app, deps);
}

function registerVolumeRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const common = { tags: ["volumes"] };
  addRoute<unknown, Static<typeof OrgParams>, Static<typeof PageQuery>>(app, deps, {
    ...common,
    method: "GET",
    url: "/v1/orgs/:org/volumes",
    operationId: "volumes.list",
    summary: "The org's volumes, by id",
    scope: "volumes:read",
    params: OrgParams,
    querystring: PageQuery,
    response: { 200: PageOf(Volume) },
    handler: async (ctx) => ({ status: 200, body: await listVolumes(deps.pool, ctx.params.org, ctx.query) }),
  });

  addRoute<Static<typeof CreateVolumeBody>, Static<typeof OrgParams>>(app, deps, {
    ...common,
    method: "POST",
    url: "/v1/orgs/:org/volumes",
    operationId: "volumes.create",
    summary: "Create a volume on a home node (state creating until the node reports)",
    scope: "volumes:write",
    params: OrgParams,
    body: CreateVolumeBody,
    response: { 201: Volume },
    handler: async (ctx) =>
      written(201, await createVolume(storageCtx(ctx), ctx.params.org, ctx.body), VOLUME_PROJECTIONS),
  });

  addRoute<unknown, Static<typeof VolumeParams>>(app, deps, {
    ...common,
    method: "GET",
    url: "/v1/orgs/:org/volumes/:volume",
    operationId: "volumes.get",
    summary: "Read a volume",
    scope: "volumes:read",
    params: VolumeParams,
    response: { 200: Volume },
    handler: async (ctx) => ({
      status: 200,
      body: await readVolume(deps.pool, ctx.params.org, ctx.params.volume),
    }),
  });

  addRoute<unknown, Static<typeof VolumeParams>>(app, deps, {
    ...common,
    method: "DELETE",
    url: "/v1/orgs/:org/volumes/:volume",
    operationId: "volumes.delete",
    summary: "Delete a volume (refused while attached; state deleting until the node reports)",
    scope: "volumes:write",
    params: VolumeParams,
    handler: async (ctx) =>
      written(
        204,
        await deleteVolume(storageCtx(ctx), ctx.params.org, ctx.params.volume),
        VOLUME_PROJECTIONS,
      ),
  });
}

function registerAttachmentRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const common = { tags: ["volumes"] };
  addRoute<unknown, Static<typeof EnvParams>, Static<typeof PageQuery>>(app, deps, {
    ...common,
    method: "GET",
    url: `${ENV_URL}/volume-attachments`,
    operationId: "volume_attachments.list",
    summary: "The env's volume attachments, by id",
    scope: "volumes:read",
    params: EnvParams,
    querystring: PageQuery,
    response: { 200: PageOf(Attachment) },
    handler: async (ctx) => {
      const env = envOf(ctx.params);
      if (!(await envIsLive(deps.pool, env))) throw envNotFound();
      return { status: 200, body: await listAttachments(deps.pool, env, ctx.query) };
    },
  });

  addRoute<Static<typeof CreateAttachmentBody>, Static<typeof EnvParams>>(app, deps, {
    ...common,
    method: "POST",
    url: `${ENV_URL}/volume-attachments`,
    operationId: "volume_attachments.create",
    summary: "Attach a volume of the org to a process type of the env",
    scope: "volumes:write",
    params: EnvParams,
    body: CreateAttachmentBody,
    response: { 201: Attachment },
    handler: async (ctx) =>
      written(
        201,
        await createAttachment(storageCtx(ctx), envOf(ctx.params), ctx.body),
        ATTACHMENT_PROJECTIONS,
      ),
  });

  addRoute<unknown, Static<typeof AttachmentParams>>(app, deps, {
    ...common,
    method: "DELETE",
    url: `${ENV_URL}/volume-attachments/:attachment`,
    operationId: "volume_attachments.delete",
    summary: "Detach a volume",
    scope: "volumes:write",
    params: AttachmentParams,
    handler: async (ctx) =>
      written(
        204,
        await deleteAttachment(storageCtx(ctx), envOf(ctx.params), ctx.params.attachment),
        ATTACHMENT_PROJECTIONS,
      ),
  });
}
