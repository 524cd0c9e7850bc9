// The snapshot commands' I/O: request a snapshot of a volume (one active per
// volume, kept by volume_active_snapshots in the same transaction), and
// record the source node's reports on it.
import { KernelError, loadAggregate, newId } from "@plfm/kernel";
import { checkQuota } from "../tenancy/quotas.ts";
import { type CommandOutcome, onAggregate, runCommand, type StorageCtx } from "./command-kit.ts";
import { lockVolume } from "./guards.ts";
import {
  decideCreateSnapshot,
  decideSnapshotReport,
  evolveSnapshot,
  initialSnapshot,
  SNAPSHOT,
  type SnapshotReport,
  type SnapshotView,
  snapshotView,
} from "./snapshot.ts";
import { isTerminal, SNAPSHOT_MACHINE } from "./state-machines.ts";
import { requireVolume } from "./volume.ts";
import { volumeAggregate } from "./volume-commands.ts";

export const snapshotAggregate = {
  aggregateType: SNAPSHOT,
  initial: initialSnapshot,
  evolve: evolveSnapshot,
};

export interface CreateSnapshotBody {
  note?: string | undefined;
  consistency?: "crash" | undefined;
}

/**
 * POST /orgs/{org}/volumes/{volume}/snapshots: `snapshot.created` (queued) on
 * the volume's home node. The volume must be `available` (its node's
 * preflight would fail anything else); 409 `snapshot_in_progress` while
 * another snapshot of it is queued or running.
 */
export async function createSnapshot(
  ctx: StorageCtx,
  orgId: string,
  volumeId: string,
  body: CreateSnapshotBody,
): Promise<CommandOutcome<SnapshotView>> {
  const snapshotId = newId("snap");
  return runCommand(ctx, async (client) => {
    await lockVolume(client, volumeId);
    const { state: volume } = await loadAggregate(client, volumeAggregate, volumeId);
    requireVolume(volume, orgId);
    if (volume.state !== "available") {
      throw new KernelError(
        "conflict",
        `The volume is ${volume.state}; only an available volume is snapshotted.`,
      );
    }
    const { rows } = await client.query<{ snapshot_id: string }>(
      "SELECT snapshot_id FROM volume_active_snapshots WHERE volume_id = $1",
      [volumeId],
    );
    if (rows[0]) {
      throw new KernelError(
        "snapshot_in_progress",
        `Snapshot ${rows[0].snapshot_id} of this volume is in progress.`,
        {
          extra: { snapshot_id: rows[0].snapshot_id },
        },
      );
    }
    await checkQuota(client, orgId, "max_snapshots_per_volume", 1, volumeId);
    const input = { orgId, volumeId, sourceNodeId: volume.spec.home_node_id, note: body.note };
    const r = await onAggregate(
      client,
      ctx,
      snapshotAggregate,
      snapshotId,
      (s) => decideCreateSnapshot(s, snapshotId, input),
      (next) => snapshotView(snapshotId, next),
    );
    if (!r.replayed) {
      await client.query("INSERT INTO volume_active_snapshots (volume_id, snapshot_id) VALUES ($1, $2)", [
        volumeId,
        snapshotId,
      ]);
    }
    return r;
  });
}

/**
 * The source node's report (POST /v1/nodes/{node}/snapshots/{id}/status,
 * node-routes.ts): `snapshot.status_changed` along the state
 * machine. A finished snapshot frees its volume for the next one.
 */
export async function reportSnapshotStatus(
  ctx: StorageCtx,
  nodeId: string,
  snapshotId: string,
  report: SnapshotReport,
): Promise<CommandOutcome<SnapshotView>> {
  return runCommand(ctx, async (client) => {
    const r = await onAggregate(
      client,
      ctx,
      snapshotAggregate,
      snapshotId,
      (s) => decideSnapshotReport(s, snapshotId, nodeId, report),
      (next) => snapshotView(snapshotId, next),
    );
    if (!r.replayed && r.events.length > 0 && isTerminal(SNAPSHOT_MACHINE, report.status)) {
      await client.query("DELETE FROM volume_active_snapshots WHERE snapshot_id = $1", [snapshotId]);
    }
    return r;
  });
}
