// Snapshots of a volume and restores from them over HTTP (spec platform.md
// §4.4). Both answer 202: the work itself runs later on a node.
import type { FastifyInstance } from "fastify";
import type { Static } from "typebox";
import { PageQuery } from "../http/pagination.ts";
import { addRoute, type RouteDeps } from "../http/route.ts";
import { listSnapshots, readRestoreJob, readSnapshot } from "./reads.ts";
import { createRestore } from "./restore-commands.ts";
import { storageCtx, written } from "./routes.ts";
import {
  CreateRestoreBody,
  CreateSnapshotBody,
  PageOf,
  RestoreJob,
  RestoreParams,
  Snapshot,
  SnapshotParams,
  VolumeParams,
} from "./schemas.ts";
import { createSnapshot } from "./snapshot-commands.ts";

const SNAPSHOT_PROJECTIONS = ["snapshots"];
const RESTORE_PROJECTIONS = ["restore_jobs"];
const VOLUME_URL = "/v1/orgs/:org/volumes/:volume";

export function registerSnapshotRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const common = { tags: ["volumes"] };
  addRoute<unknown, Static<typeof VolumeParams>, Static<typeof PageQuery>>(app, deps, {
    ...common,
    method: "GET",
    url: `${VOLUME_URL}/snapshots`,
    operationId: "snapshots.list",
    summary: "A volume's snapshots, by id",
    scope: "volumes:read",
    params: VolumeParams,
    querystring: PageQuery,
    response: { 200: PageOf(Snapshot) },
    handler: async (ctx) => ({
      status: 200,
      body: await listSnapshots(deps.pool, ctx.params.org, ctx.params.volume, ctx.query),
    }),
  });

  addRoute<Static<typeof CreateSnapshotBody>, Static<typeof VolumeParams>>(app, deps, {
    ...common,
    method: "POST",
    url: `${VOLUME_URL}/snapshots`,
    operationId: "snapshots.create",
    summary: "Snapshot a volume and back it up (queued; one at a time per volume)",
    scope: "volumes:write",
    params: VolumeParams,
    body: CreateSnapshotBody,
    response: { 202: Snapshot },
    // §4.2: snapshot keys are also scoped by the volume.
    handler: async (ctx) =>
      written(
        202,
        await createSnapshot(storageCtx(ctx, ctx.params.volume), ctx.params.org, ctx.params.volume, ctx.body),
        SNAPSHOT_PROJECTIONS,
      ),
  });

  addRoute<unknown, Static<typeof SnapshotParams>>(app, deps, {
    ...common,
    method: "GET",
    url: "/v1/orgs/:org/snapshots/:snapshot",
    operationId: "snapshots.get",
    summary: "Read a snapshot",
    scope: "volumes:read",
    params: SnapshotParams,
    response: { 200: Snapshot },
    handler: async (ctx) => ({
      status: 200,
      body: await readSnapshot(deps.pool, ctx.params.org, ctx.params.snapshot),
    }),
  });

  addRoute<Static<typeof CreateRestoreBody>, Static<typeof VolumeParams>>(app, deps, {
    ...common,
    method: "POST",
    url: `${VOLUME_URL}/restore`,
    operationId: "restore_jobs.create",
    summary: "Restore a succeeded snapshot of the volume into a new volume (queued)",
    scope: "volumes:write",
    params: VolumeParams,
    body: CreateRestoreBody,
    response: { 202: RestoreJob },
    // §4.2 and §10.4: restore keys are also scoped by the snapshot.
    handler: async (ctx) =>
      written(
        202,
        await createRestore(
          storageCtx(ctx, ctx.body.snapshot_id),
          ctx.params.org,
          ctx.params.volume,
          ctx.body,
        ),
        RESTORE_PROJECTIONS,
      ),
  });

  addRoute<unknown, Static<typeof RestoreParams>>(app, deps, {
    ...common,
    method: "GET",
    url: "/v1/orgs/:org/restore-jobs/:restore",
    operationId: "restore_jobs.get",
    summary: "Read a restore job",
    scope: "volumes:read",
    params: RestoreParams,
    response: { 200: RestoreJob },
    handler: async (ctx) => ({
      status: 200,
      body: await readRestoreJob(deps.pool, ctx.params.org, ctx.params.restore),
    }),
  });
}
