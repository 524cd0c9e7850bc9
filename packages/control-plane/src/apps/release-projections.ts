// Projections of releases, deploys and env_desired_releases. Each apply is
// idempotent (insert-once, or guarded by the aggregate sequence last applied),
// so a rebuild from zero matches incremental application.
import type { Projection } from "@plfm/kernel";

type P = Record<string, unknown>;
const json = (v: unknown) => JSON.stringify(v ?? null);

/** releases: one immutable row per release.created. */
export const releasesProjection: Projection = {
  name: "releases",
  tables: ["releases"],
  eventTypes: ["release.created"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as P;
      await client.query(
        `INSERT INTO releases (release_id, org_id, app_id, image_ref, index_or_manifest_digest, resolved_digests,
                               manifest_schema_version, manifest, manifest_hash, manifest_size_bytes, command, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (release_id) DO NOTHING`,
        [
          e.aggregateId,
          p.org_id,
          p.app_id,
          p.image_ref,
          p.index_or_manifest_digest,
          json(p.resolved_digests),
          p.manifest_schema_version,
          json(p.manifest),
          p.manifest_hash,
          p.manifest_size_bytes,
          json(p.command),
          e.occurredAt,
        ],
      );
    }
  },
};

/** deploys: created queued at version 1; each status change bumps resource_version. */
export const deploysProjection: Projection = {
  name: "deploys",
  tables: ["deploys"],
  eventTypes: ["deploy.created", "deploy.status_changed"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as P;
      if (e.eventType === "deploy.created") {
        await client.query(
          `INSERT INTO deploys (deploy_id, org_id, app_id, env_id, kind, release_id, process_types, strategy,
                                status, initiated_at, resource_version, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9, $10, $11, $11) ON CONFLICT (deploy_id) DO NOTHING`,
          [
            e.aggregateId,
            p.org_id,
            p.app_id,
            p.env_id,
            p.kind,
            p.release_id,
            json(p.process_types),
            p.strategy,
            p.initiated_at,
            e.aggregateSeq,
            e.occurredAt,
          ],
        );
      } else {
        await client.query(
          `UPDATE deploys SET status = $2, message = $3, failed_reason = $4, resource_version = $5, updated_at = $6
            WHERE deploy_id = $1 AND resource_version < $5`,
          [e.aggregateId, p.status, p.message ?? null, p.failed_reason ?? null, e.aggregateSeq, e.occurredAt],
        );
      }
    }
  },
};

/** env_desired_releases: the latest env.desired_release_set per (env, process type). */
export const envDesiredReleasesProjection: Projection = {
  name: "env_desired_releases",
  tables: ["env_desired_releases"],
  eventTypes: ["env.desired_release_set"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as P;
      await client.query(
        `INSERT INTO env_desired_releases (env_id, process_type, org_id, app_id, release_id, deploy_id, env_seq, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (env_id, process_type) DO UPDATE
            SET release_id = excluded.release_id, deploy_id = excluded.deploy_id,
                env_seq = excluded.env_seq, updated_at = excluded.updated_at
          WHERE env_desired_releases.env_seq < excluded.env_seq`,
        [
          e.aggregateId,
          p.process_type,
          p.org_id,
          p.app_id,
          p.release_id,
          p.deploy_id,
          e.aggregateSeq,
          e.occurredAt,
        ],
      );
    }
  },
};

export const releaseProjections = [releasesProjection, deploysProjection, envDesiredReleasesProjection];
