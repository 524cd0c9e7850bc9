// The volume commands' I/O: pick or check the home node, check quotas, decide
// (pure, volume.ts), append, and keep the command-side rows (name claim,
// volume_claims) in the same transaction.
import { newId, type Queryable } from "@plfm/kernel";
import { claimName, releaseNames } from "../tenancy/claims.ts";
import { checkQuota } from "../tenancy/quotas.ts";
import { type CommandOutcome, onAggregate, runCommand, type StorageCtx } from "./command-kit.ts";
import { lockVolume, nodeIsEligible, nodeNotEligible, pickHomeNode } from "./guards.ts";
import type { ReportedVolumeState } from "./state-machines.ts";
import {
  decideCreateVolume,
  decideDeleteVolume,
  decideVolumeReport,
  evolveVolume,
  initialVolume,
  VOLUME,
  type VolumeView,
  volumeView,
} from "./volume.ts";

export const volumeAggregate = { aggregateType: VOLUME, initial: initialVolume, evolve: evolveVolume };

/** Volume names are unique per org (when given); restore jobs reserve theirs here too. */
export const volumeNameScope = (orgId: string) => `volume:${orgId}`;

export interface CreateVolumeBody {
  name?: string | undefined;
  size_bytes: number;
  filesystem?: "ext4" | undefined;
  backup_enabled?: true | undefined;
  home_node_id?: string | undefined;
}

/**
 * The home node: the one asked for, if it is an active worker (else 400 on
 * `home_node_id`), or the scheduler's pick (none → 409 `no_capacity`: every
 * `volume.created` names its home, decision 3).
 */
async function homeNodeFor(db: Queryable, asked: string | undefined): Promise<string> {
  if (asked !== undefined) {
    if (!(await nodeIsEligible(db, asked))) throw nodeNotEligible("home_node_id");
    return asked;
  }
  return (await pickHomeNode(db)) ?? "";
}

/** POST /orgs/{org}/volumes: `volume.created` in state `creating`, until the home node reports. */
export async function createVolume(
  ctx: StorageCtx,
  orgId: string,
  body: CreateVolumeBody,
): Promise<CommandOutcome<VolumeView>> {
  const volumeId = newId("vol");
  return runCommand(ctx, async (client) => {
    const home = await homeNodeFor(client, body.home_node_id);
    await checkQuota(client, orgId, "max_volumes", 1);
    await checkQuota(client, orgId, "max_total_volume_bytes", body.size_bytes);
    const spec = {
      name: body.name ?? null,
      size_bytes: body.size_bytes,
      filesystem: "ext4" as const,
      backup_enabled: true,
      home_node_id: home,
    };
    const r = await onAggregate(
      client,
      ctx,
      volumeAggregate,
      volumeId,
      (s) => decideCreateVolume(s, volumeId, orgId, spec),
      (next) => volumeView(volumeId, next),
    );
    if (!r.replayed) {
      if (spec.name !== null) await claimName(client, volumeNameScope(orgId), spec.name, volumeId);
      await client.query(
        "INSERT INTO volume_claims (volume_id, org_id, size_bytes, home_node_id) VALUES ($1, $2, $3, $4)",
        [volumeId, orgId, spec.size_bytes, home],
      );
    }
    return r;
  });
}

/** Whether an attachment holds the volume now (command side). */
export async function volumeIsAttached(db: Queryable, volumeId: string): Promise<boolean> {
  const { rows } = await db.query("SELECT 1 FROM volume_attachment_claims WHERE volume_id = $1", [volumeId]);
  return rows.length > 0;
}

/**
 * DELETE /orgs/{org}/volumes/{volume}: `volume.deleted` (state `deleting`),
 * refused while attached. The name stays taken until the agent reports the
 * volume `deleted` (see reportVolumeState).
 */
export async function deleteVolume(
  ctx: StorageCtx,
  orgId: string,
  volumeId: string,
): Promise<CommandOutcome<null>> {
  return runCommand(ctx, async (client) => {
    // Under the volume's lock no attachment can appear between the check and the append.
    await lockVolume(client, volumeId);
    const attached = await volumeIsAttached(client, volumeId);
    return onAggregate(
      client,
      ctx,
      volumeAggregate,
      volumeId,
      (s) => decideDeleteVolume(s, volumeId, orgId, attached),
      () => null,
    );
  });
}

/**
 * The home node's report on a volume (POST /v1/nodes/{node}/volumes/{id}/status,
 * node-routes.ts): `volume.state_changed` along the state
 * machine. Once `deleted`, the volume frees its name and its quota.
 */
export async function reportVolumeState(
  ctx: StorageCtx,
  nodeId: string,
  volumeId: string,
  report: { state: ReportedVolumeState; reason?: string | undefined },
): Promise<CommandOutcome<VolumeView>> {
  return runCommand(ctx, async (client) => {
    await lockVolume(client, volumeId);
    const r = await onAggregate(
      client,
      ctx,
      volumeAggregate,
      volumeId,
      (s) => decideVolumeReport(s, volumeId, nodeId, report),
      (next) => volumeView(volumeId, next),
    );
    if (!r.replayed && r.events.length > 0 && report.state === "deleted") {
      await releaseNames(client, volumeNameScope(r.response.org_id), volumeId);
      await client.query("DELETE FROM volume_claims WHERE volume_id = $1", [volumeId]);
    }
    return r;
  });
}
