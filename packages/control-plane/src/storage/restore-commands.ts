// The restore job commands' I/O: request a restore of a succeeded snapshot
// into a new volume (its name reserved now, so the job cannot fail on it
// later), and record the reports on the job. Executing it comes later.
import { KernelError, loadAggregate, newId } from "@plfm/kernel";
import { claimName, releaseNames } from "../tenancy/claims.ts";
import { checkQuota } from "../tenancy/quotas.ts";
import { type CommandOutcome, onAggregate, runCommand, type StorageCtx } from "./command-kit.ts";
import { nodeIsEligible, nodeNotEligible } from "./guards.ts";
import {
  decideCreateRestore,
  decideRestoreReport,
  evolveRestore,
  initialRestore,
  RESTORE_JOB,
  type RestoreReport,
  type RestoreView,
  restoreView,
} from "./restore.ts";
import { snapshotAggregate } from "./snapshot-commands.ts";
import { volumeAggregate, volumeNameScope } from "./volume-commands.ts";

export const restoreAggregate = {
  aggregateType: RESTORE_JOB,
  initial: initialRestore,
  evolve: evolveRestore,
};

export interface CreateRestoreBody {
  snapshot_id: string;
  new_volume_name?: string | undefined;
  target_node_id?: string | undefined;
}

/**
 * POST /orgs/{org}/volumes/{volume}/restore: `restore_job.created` (queued).
 * The source volume may already be deleted (its backups outlive it); the
 * snapshot must be of it and `succeeded`. Without a target node the storage
 * job controller picks one when it starts the job (§10.4).
 */
export async function createRestore(
  ctx: StorageCtx,
  orgId: string,
  volumeId: string,
  body: CreateRestoreBody,
): Promise<CommandOutcome<RestoreView>> {
  const restoreId = newId("rjob");
  const request = {
    snapshot_id: body.snapshot_id,
    source_volume_id: volumeId,
    new_volume_name: body.new_volume_name ?? null,
    target_node_id: body.target_node_id ?? null,
  };
  return runCommand(ctx, async (client) => {
    const { state: volume } = await loadAggregate(client, volumeAggregate, volumeId);
    if (!volume.exists || volume.orgId !== orgId) throw new KernelError("not_found", "No such volume.");
    if (request.target_node_id !== null && !(await nodeIsEligible(client, request.target_node_id))) {
      throw nodeNotEligible("target_node_id");
    }
    const { state: snap } = await loadAggregate(client, snapshotAggregate, body.snapshot_id);
    const facts = { exists: snap.exists, orgId: snap.orgId, volumeId: snap.volumeId, status: snap.status };
    await checkQuota(client, orgId, "max_restore_jobs", 1);
    const r = await onAggregate(
      client,
      ctx,
      restoreAggregate,
      restoreId,
      (s) => decideCreateRestore(s, restoreId, orgId, request, facts),
      (next) => restoreView(restoreId, next),
    );
    if (!r.replayed && request.new_volume_name !== null) {
      await claimName(client, volumeNameScope(orgId), request.new_volume_name, restoreId, "new_volume_name");
    }
    return r;
  });
}

/**
 * A report on a restore job (for POST /v1/nodes/{node}/restore-jobs/{id}/status
 * and the storage job controller, which come later): `restore_job.status_changed`
 * along the state machine. The reserved name passes to the new volume when
 * the job runs (the controller appends that volume's `volume.created` in the
 * same command and must not claim the name again), and is freed if it fails.
 */
export async function reportRestoreStatus(
  ctx: StorageCtx,
  restoreId: string,
  report: RestoreReport,
): Promise<CommandOutcome<RestoreView>> {
  return runCommand(ctx, async (client) => {
    const r = await onAggregate(
      client,
      ctx,
      restoreAggregate,
      restoreId,
      (s) => decideRestoreReport(s, restoreId, report),
      (next) => restoreView(restoreId, next),
    );
    if (r.replayed || r.events.length === 0) return r;
    const scope = volumeNameScope(r.response.org_id);
    if (report.status === "running" && r.response.new_volume_id !== null) {
      await client.query("UPDATE name_claims SET owner_id = $3 WHERE scope = $1 AND owner_id = $2", [
        scope,
        restoreId,
        r.response.new_volume_id,
      ]);
    } else if (report.status === "failed") {
      await releaseNames(client, scope, restoreId);
    }
    return r;
  });
}
