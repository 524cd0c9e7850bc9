// The env's desired releases as the commands see them: folded from the log
// (not the env_desired_releases view, which may lag a deploy just made).
import type { Queryable } from "@plfm/kernel";

/**
 * Process types the env's desired releases define: the union of the
 * manifests' process types over the releases currently desired for some
 * process type of the env. Null when the env has never been deployed: there is
 * no release to check against yet.
 */
export async function desiredProcessTypes(db: Queryable, envId: string): Promise<Set<string> | null> {
  const { rows } = await db.query<{ release_id: string }>(
    `SELECT DISTINCT release_id FROM (
       SELECT DISTINCT ON (payload->>'process_type') payload->>'release_id' AS release_id
         FROM events
        WHERE aggregate_type = 'env' AND aggregate_id = $1 AND event_type = 'env.desired_release_set'
        ORDER BY payload->>'process_type', aggregate_seq DESC) d`,
    [envId],
  );
  if (rows.length === 0) return null;
  const { rows: manifests } = await db.query<{ types: string[] }>(
    `SELECT ARRAY(SELECT jsonb_object_keys(payload->'manifest'->'processes')) AS types
       FROM events
      WHERE aggregate_type = 'release' AND event_type = 'release.created' AND aggregate_id = ANY($1::text[])`,
    [rows.map((r) => r.release_id)],
  );
  return new Set(manifests.flatMap((m) => m.types));
}
