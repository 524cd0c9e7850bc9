// Reads of the storage views (eventually consistent; writes wait for them
// before answering, so a client sees its own writes). Lists page by id.
import { KernelError, type Queryable } from "@plfm/kernel";
import { type Page, pageAfter, toPage } from "../http/pagination.ts";
import type { AttachmentView, EnvRef } from "./attachment.ts";
import type { RestoreView } from "./restore.ts";
import type { SnapshotView } from "./snapshot.ts";
import { publicVolumeState, type VolumeState } from "./state-machines.ts";
import type { VolumeView } from "./volume.ts";

export interface PageRequest {
  limit?: number | undefined;
  cursor?: string | undefined;
}

type Dated<V> = Omit<V, "created_at" | "updated_at"> & { created_at: Date; updated_at: Date };

const dated = <V>(r: Dated<V>): V =>
  ({ ...r, created_at: r.created_at.toISOString(), updated_at: r.updated_at.toISOString() }) as V;

// bigint columns arrive as strings from pg.
const num = (v: unknown) => (v === null ? null : Number(v));

const VOLUME_COLUMNS = `volume_id, org_id, name, size_bytes, filesystem, backup_enabled, home_node_id, state,
  state_reason, resource_version, created_at, updated_at`;

/**
 * TODO(scheduler): refine `available` into attaching/in_use/detaching from the
 * instances mounting the volume; until instances exist nothing uses one.
 */
function toVolume(r: Dated<VolumeView>): VolumeView {
  const v = dated<VolumeView>(r);
  return { ...v, size_bytes: Number(v.size_bytes), state: publicVolumeState(v.state as VolumeState, "none") };
}

/** A volume of the org (shown while `deleting`; gone once reported deleted), else 404. */
export async function readVolume(db: Queryable, orgId: string, volumeId: string): Promise<VolumeView> {
  const { rows } = await db.query<Dated<VolumeView>>(
    `SELECT ${VOLUME_COLUMNS} FROM volumes WHERE volume_id = $1 AND org_id = $2 AND NOT is_deleted`,
    [volumeId, orgId],
  );
  if (!rows[0]) throw new KernelError("not_found", "No such volume.");
  return toVolume(rows[0]);
}

export async function listVolumes(db: Queryable, orgId: string, q: PageRequest): Promise<Page<VolumeView>> {
  const limit = q.limit ?? 50;
  const { rows } = await db.query<Dated<VolumeView>>(
    `SELECT ${VOLUME_COLUMNS} FROM volumes
      WHERE org_id = $1 AND NOT is_deleted AND volume_id > $2 ORDER BY volume_id LIMIT $3`,
    [orgId, pageAfter(q.cursor), limit + 1],
  );
  return toPage(rows.map(toVolume), limit, (v) => v.volume_id);
}

export async function listAttachments(
  db: Queryable,
  env: EnvRef,
  q: PageRequest,
): Promise<Page<AttachmentView>> {
  const limit = q.limit ?? 50;
  const { rows } = await db.query<Dated<AttachmentView>>(
    `SELECT attachment_id, org_id, app_id, env_id, volume_id, process_type, mount_path, read_only,
            resource_version, created_at, updated_at
       FROM volume_attachments
      WHERE env_id = $1 AND app_id = $2 AND org_id = $3 AND NOT is_deleted AND attachment_id > $4
      ORDER BY attachment_id LIMIT $5`,
    [env.envId, env.appId, env.orgId, pageAfter(q.cursor), limit + 1],
  );
  return toPage(rows.map(dated<AttachmentView>), limit, (a) => a.attachment_id);
}

const SNAPSHOT_COLUMNS = `snapshot_id, org_id, volume_id, status, consistency, size_bytes, note, source_node_id,
  failed_reason, resource_version, created_at, updated_at`;
const toSnapshot = (r: Dated<SnapshotView>): SnapshotView => ({
  ...dated<SnapshotView>(r),
  size_bytes: num(r.size_bytes),
});

export async function readSnapshot(db: Queryable, orgId: string, snapshotId: string): Promise<SnapshotView> {
  const { rows } = await db.query<Dated<SnapshotView>>(
    `SELECT ${SNAPSHOT_COLUMNS} FROM snapshots WHERE snapshot_id = $1 AND org_id = $2`,
    [snapshotId, orgId],
  );
  if (!rows[0]) throw new KernelError("not_found", "No such snapshot.");
  return toSnapshot(rows[0]);
}

/** Snapshots of a volume of the org, oldest first (404 for an unknown volume). */
export async function listSnapshots(
  db: Queryable,
  orgId: string,
  volumeId: string,
  q: PageRequest,
): Promise<Page<SnapshotView>> {
  await readVolume(db, orgId, volumeId);
  const limit = q.limit ?? 50;
  const { rows } = await db.query<Dated<SnapshotView>>(
    `SELECT ${SNAPSHOT_COLUMNS} FROM snapshots
      WHERE volume_id = $1 AND org_id = $2 AND snapshot_id > $3 ORDER BY snapshot_id LIMIT $4`,
    [volumeId, orgId, pageAfter(q.cursor), limit + 1],
  );
  return toPage(rows.map(toSnapshot), limit, (s) => s.snapshot_id);
}

export async function readRestoreJob(db: Queryable, orgId: string, restoreId: string): Promise<RestoreView> {
  const { rows } = await db.query<Dated<RestoreView>>(
    `SELECT restore_id, org_id, snapshot_id, source_volume_id, new_volume_name, target_node_id, status,
            new_volume_id, failed_reason, resource_version, created_at, updated_at
       FROM restore_jobs WHERE restore_id = $1 AND org_id = $2`,
    [restoreId, orgId],
  );
  if (!rows[0]) throw new KernelError("not_found", "No such restore job.");
  return dated<RestoreView>(rows[0]);
}
