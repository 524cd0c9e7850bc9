import type { Projection } from "@plfm/kernel";

/**
 * secret_bundles: one row per bundle with its current version and data_hash
 * (the events carry nothing more; key names are read from secret_versions).
 * Idempotent by last_seq; resource_version = versions set = seq − 1.
 */
export const secretBundlesProjection: Projection = {
  name: "secret_bundles",
  tables: ["secret_bundles"],
  eventTypes: ["secret_bundle.created", "secret_bundle.version_set"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as Record<string, unknown>;
      if (e.eventType === "secret_bundle.created") {
        await client.query(
          `INSERT INTO secret_bundles (bundle_id, org_id, app_id, env_id, format, resource_version, last_seq,
                                       created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $7) ON CONFLICT (bundle_id) DO NOTHING`,
          [e.aggregateId, p.org_id, p.app_id, p.env_id, p.format, e.aggregateSeq, e.occurredAt],
        );
      } else {
        await client.query(
          `UPDATE secret_bundles
              SET current_version_id = $2, current_data_hash = $3, format = $4,
                  resource_version = $5 - 1, last_seq = $5, updated_at = $6
            WHERE bundle_id = $1 AND last_seq < $5`,
          [e.aggregateId, p.version_id, p.data_hash, p.format, e.aggregateSeq, e.occurredAt],
        );
      }
    }
  },
};

export const secretsProjections = [secretBundlesProjection];
