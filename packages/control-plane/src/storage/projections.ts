// The storage projections. Each is idempotent: inserts are ON CONFLICT DO
// NOTHING, updates apply only when resource_version (the aggregate's seq)
// moves forward, so a re-delivered batch changes nothing.
import type { Projection } from "@plfm/kernel";

/** volumes: `volume.deleted` shows `deleting`; the agent's `deleted` hides the row. */
export const volumesProjection: Projection = {
  name: "volumes",
  tables: ["volumes"],
  eventTypes: ["volume.created", "volume.state_changed", "volume.deleted"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as Record<string, unknown>;
      if (e.eventType === "volume.created") {
        await client.query(
          `INSERT INTO volumes (volume_id, org_id, name, size_bytes, filesystem, backup_enabled, home_node_id,
                                state, resource_version, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 'creating', $8, $9, $9) ON CONFLICT (volume_id) DO NOTHING`,
          [
            e.aggregateId,
            p.org_id,
            p.name ?? null,
            p.size_bytes,
            p.filesystem,
            p.backup_enabled,
            p.home_node_id,
            e.aggregateSeq,
            e.occurredAt,
          ],
        );
        continue;
      }
      const state = e.eventType === "volume.deleted" ? "deleting" : String(p.state);
      await client.query(
        `UPDATE volumes SET state = $2, state_reason = $3, is_deleted = $4, resource_version = $5, updated_at = $6
          WHERE volume_id = $1 AND resource_version < $5`,
        [e.aggregateId, state, p.reason ?? null, state === "deleted", e.aggregateSeq, e.occurredAt],
      );
    }
  },
};

export const volumeAttachmentsProjection: Projection = {
  name: "volume_attachments",
  tables: ["volume_attachments"],
  eventTypes: ["volume_attachment.created", "volume_attachment.deleted"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as Record<string, unknown>;
      if (e.eventType === "volume_attachment.created") {
        await client.query(
          `INSERT INTO volume_attachments (attachment_id, org_id, app_id, env_id, volume_id, process_type,
                                           mount_path, read_only, resource_version, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT (attachment_id) DO NOTHING`,
          [
            e.aggregateId,
            p.org_id,
            p.app_id,
            p.env_id,
            p.volume_id,
            p.process_type,
            p.mount_path,
            p.read_only,
            e.aggregateSeq,
            e.occurredAt,
          ],
        );
      } else {
        await client.query(
          `UPDATE volume_attachments SET is_deleted = true, resource_version = $2, updated_at = $3
            WHERE attachment_id = $1 AND resource_version < $2`,
          [e.aggregateId, e.aggregateSeq, e.occurredAt],
        );
      }
    }
  },
};

export const snapshotsProjection: Projection = {
  name: "snapshots",
  tables: ["snapshots"],
  eventTypes: ["snapshot.created", "snapshot.status_changed"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as Record<string, unknown>;
      if (e.eventType === "snapshot.created") {
        await client.query(
          `INSERT INTO snapshots (snapshot_id, org_id, volume_id, status, consistency, note, source_node_id,
                                  resource_version, created_at, updated_at)
           VALUES ($1, $2, $3, 'queued', 'crash', $4, $5, $6, $7, $7) ON CONFLICT (snapshot_id) DO NOTHING`,
          [
            e.aggregateId,
            p.org_id,
            p.volume_id,
            p.note ?? null,
            p.source_node_id,
            e.aggregateSeq,
            e.occurredAt,
          ],
        );
      } else {
        await client.query(
          `UPDATE snapshots SET status = $2, consistency = coalesce($3, consistency),
                  size_bytes = coalesce($4, size_bytes), failed_reason = coalesce($5, failed_reason),
                  resource_version = $6, updated_at = $7
            WHERE snapshot_id = $1 AND resource_version < $6`,
          [
            e.aggregateId,
            p.status,
            p.consistency ?? null,
            p.size_bytes ?? null,
            p.failed_reason ?? null,
            e.aggregateSeq,
            e.occurredAt,
          ],
        );
      }
    }
  },
};

export const restoreJobsProjection: Projection = {
  name: "restore_jobs",
  tables: ["restore_jobs"],
  eventTypes: ["restore_job.created", "restore_job.status_changed"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as Record<string, unknown>;
      if (e.eventType === "restore_job.created") {
        await client.query(
          `INSERT INTO restore_jobs (restore_id, org_id, snapshot_id, source_volume_id, new_volume_name,
                                     target_node_id, status, resource_version, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $8) ON CONFLICT (restore_id) DO NOTHING`,
          [
            e.aggregateId,
            p.org_id,
            p.snapshot_id,
            p.source_volume_id,
            p.new_volume_name ?? null,
            p.target_node_id ?? null,
            e.aggregateSeq,
            e.occurredAt,
          ],
        );
      } else {
        await client.query(
          `UPDATE restore_jobs SET status = $2, new_volume_id = coalesce($3, new_volume_id),
                  failed_reason = coalesce($4, failed_reason), resource_version = $5, updated_at = $6
            WHERE restore_id = $1 AND resource_version < $5`,
          [
            e.aggregateId,
            p.status,
            p.new_volume_id ?? null,
            p.failed_reason ?? null,
            e.aggregateSeq,
            e.occurredAt,
          ],
        );
      }
    }
  },
};

export const storageProjections = [
  volumesProjection,
  volumeAttachmentsProjection,
  snapshotsProjection,
  restoreJobsProjection,
];
