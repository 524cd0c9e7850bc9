// What agents report about storage work (spec platform.md §10, §4.4):
// POST /v1/nodes/{node}/volumes/{id}/status, …/snapshots/{id}/status and
// …/restore-jobs/{id}/status. Each change becomes its event through the same
// commands and state machines as everything else; a repeated report appends
// nothing. Only the node doing the work may report it.
import { KernelError } from "@plfm/kernel";
import type { FastifyInstance } from "fastify";
import { type Static, Type } from "typebox";
import { addNodeRoute } from "../fleet/index.ts";
import { idSchema as id } from "../http/ids.ts";
import type { RouteDeps } from "../http/route.ts";
import type { StorageCtx } from "./command-kit.ts";
import { reportRestoreStatus } from "./restore-commands.ts";
import { RestoreJob, Snapshot, Volume } from "./schemas.ts";
import { reportSnapshotStatus } from "./snapshot-commands.ts";
import { REPORTABLE_VOLUME_STATES, RESTORE_FAILED_REASONS } from "./state-machines.ts";
import { reportVolumeState } from "./volume-commands.ts";

const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));

const VolumeStatusParams = Type.Object(
  { node: id("node"), volume: id("vol") },
  { additionalProperties: false },
);
const VolumeStatusBody = Type.Object(
  { state: literals(REPORTABLE_VOLUME_STATES), reason: Type.Optional(Type.String({ maxLength: 256 })) },
  { additionalProperties: false },
);
const SnapshotStatusParams = Type.Object(
  { node: id("node"), snapshot: id("snap") },
  { additionalProperties: false },
);
// Backup metadata (§10.3) joins this body when snapshots really run on nodes.
const SnapshotStatusBody = Type.Object(
  {
    status: literals(["running", "succeeded", "failed"] as const),
    consistency: Type.Optional(literals(["crash", "application"] as const)),
    size_bytes: Type.Optional(Type.Integer({ minimum: 0 })),
    failed_reason: Type.Optional(Type.String({ maxLength: 160 })),
  },
  { additionalProperties: false },
);
const RestoreStatusParams = Type.Object(
  { node: id("node"), restore: id("rjob") },
  { additionalProperties: false },
);
// `running` (with the new volume) is the control plane's step (§10.4 flow), so
// the target node reports only how the job ended.
const RestoreStatusBody = Type.Object(
  {
    status: literals(["succeeded", "failed"] as const),
    failed_reason: Type.Optional(literals(RESTORE_FAILED_REASONS)),
  },
  { additionalProperties: false },
);

const nodeCtx = (deps: RouteDeps, nodeId: string, requestId: string): StorageCtx => ({
  pool: deps.pool,
  actor: { type: "node", id: nodeId },
  idempotency: null,
  requestId,
  now: deps.now(),
});

export function registerStorageNodeRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const settled = async (position: Parameters<typeof deps.kernel.watcher.waitFor>[0], view: string) =>
    deps.kernel.watcher.waitFor(position, [view], { timeoutMs: deps.projectionWaitTimeoutMs });

  addNodeRoute<Static<typeof VolumeStatusBody>>(app, deps.pool, deps.now, {
    method: "POST",
    url: "/v1/nodes/:node/volumes/:volume/status",
    operationId: "nodes.volumes.status",
    summary: "The home node reports a volume's state (available, error, deleted)",
    params: VolumeStatusParams,
    body: VolumeStatusBody,
    response: { 200: Volume },
    handler: async ({ nodeId, body, request }) => {
      const { volume } = request.params as Static<typeof VolumeStatusParams>;
      const r = await reportVolumeState(nodeCtx(deps, nodeId, request.id), nodeId, volume, body);
      await settled(r.position, "volumes");
      return { status: 200, body: r.response };
    },
  });

  addNodeRoute<Static<typeof SnapshotStatusBody>>(app, deps.pool, deps.now, {
    method: "POST",
    url: "/v1/nodes/:node/snapshots/:snapshot/status",
    operationId: "nodes.snapshots.status",
    summary: "The source node reports a snapshot's progress",
    params: SnapshotStatusParams,
    body: SnapshotStatusBody,
    response: { 200: Snapshot },
    handler: async ({ nodeId, body, request }) => {
      const { snapshot } = request.params as Static<typeof SnapshotStatusParams>;
      const r = await reportSnapshotStatus(nodeCtx(deps, nodeId, request.id), nodeId, snapshot, body);
      await settled(r.position, "snapshots");
      return { status: 200, body: r.response };
    },
  });

  addNodeRoute<Static<typeof RestoreStatusBody>>(app, deps.pool, deps.now, {
    method: "POST",
    url: "/v1/nodes/:node/restore-jobs/:restore/status",
    operationId: "nodes.restore_jobs.status",
    summary: "The target node reports how a restore job ended",
    params: RestoreStatusParams,
    body: RestoreStatusBody,
    response: { 200: RestoreJob },
    handler: async ({ nodeId, body, request }) => {
      const { restore } = request.params as Static<typeof RestoreStatusParams>;
      await requireRestoreTarget(deps, restore, nodeId);
      const r = await reportRestoreStatus(nodeCtx(deps, nodeId, request.id), restore, body);
      await settled(r.position, "restore_jobs");
      return { status: 200, body: r.response };
    },
  });
}

/**
 * The node a restore runs on: the requested target, else the new volume's
 * home once the control plane has created it. Read from the views: the
 * target never changes once set, so a stale read cannot let the wrong node in.
 */
async function requireRestoreTarget(deps: RouteDeps, restoreId: string, nodeId: string): Promise<void> {
  const { rows } = await deps.pool.query<{ target: string | null }>(
    `SELECT coalesce(r.target_node_id, v.home_node_id) AS target
       FROM restore_jobs r LEFT JOIN volumes v ON v.volume_id = r.new_volume_id
      WHERE r.restore_id = $1`,
    [restoreId],
  );
  const row = rows[0];
  if (!row) throw new KernelError("not_found", "No such restore job.");
  if (row.target !== nodeId)
    throw new KernelError("forbidden", "Only the restore's target node reports on it.");
}
