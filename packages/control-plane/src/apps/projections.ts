import type { Projection } from "@plfm/kernel";

type P = Record<string, unknown>;

/**
 * apps: one row per app, soft-deleted. Idempotent: an event applies only when
 * its aggregate_seq is above the row's resource_version.
 */
export const appsProjection: Projection = {
  name: "apps",
  tables: ["apps"],
  eventTypes: ["app.created", "app.updated", "app.deleted"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as P;
      if (e.eventType === "app.created") {
        await client.query(
          `INSERT INTO apps (app_id, org_id, project_id, name, description, resource_version, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (app_id) DO NOTHING`,
          [
            e.aggregateId,
            p.org_id,
            p.project_id ?? null,
            p.name,
            p.description ?? null,
            e.aggregateSeq,
            e.occurredAt,
          ],
        );
      } else if (e.eventType === "app.updated") {
        // A key present with null clears the column; an absent key keeps it.
        await client.query(
          `UPDATE apps SET name = coalesce($2, name),
                  project_id = CASE WHEN $3 THEN $4 ELSE project_id END,
                  description = CASE WHEN $5 THEN $6 ELSE description END,
                  resource_version = $7, updated_at = $8
            WHERE app_id = $1 AND resource_version < $7`,
          [
            e.aggregateId,
            p.name ?? null,
            "project_id" in p,
            p.project_id ?? null,
            "description" in p,
            p.description ?? null,
            e.aggregateSeq,
            e.occurredAt,
          ],
        );
      } else {
        await client.query(
          `UPDATE apps SET is_deleted = true, resource_version = $2, updated_at = $3
            WHERE app_id = $1 AND resource_version < $2`,
          [e.aggregateId, e.aggregateSeq, e.occurredAt],
        );
      }
    }
  },
};

/**
 * envs: one row per env, soft-deleted. `last_seq` guards idempotency, since
 * resource_version counts only the env's own changes (see env.ts).
 */
export const envsProjection: Projection = {
  name: "envs",
  tables: ["envs"],
  eventTypes: ["env.created", "env.updated", "env.deleted"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as P;
      if (e.eventType === "env.created") {
        await client.query(
          `INSERT INTO envs (env_id, org_id, app_id, name, resource_version, last_seq, created_at, updated_at)
           VALUES ($1, $2, $3, $4, 1, $5, $6, $6) ON CONFLICT (env_id) DO NOTHING`,
          [e.aggregateId, p.org_id, p.app_id, p.name, e.aggregateSeq, e.occurredAt],
        );
      } else {
        await client.query(
          `UPDATE envs SET name = coalesce($2, name), is_deleted = is_deleted OR $3,
                  resource_version = resource_version + 1, last_seq = $4, updated_at = $5
            WHERE env_id = $1 AND last_seq < $4`,
          [e.aggregateId, p.name ?? null, e.eventType === "env.deleted", e.aggregateSeq, e.occurredAt],
        );
      }
    }
  },
};

/**
 * env_scale: one row per env with its processes' desired counts, merged per
 * env.scale_set (types not listed keep theirs) and kept sorted by
 * process_type in byte order, as the pure scaleView sorts them.
 */
export const envScaleProjection: Projection = {
  name: "env_scale",
  tables: ["env_scale"],
  eventTypes: ["env.created", "env.scale_set", "env.deleted"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as P;
      if (e.eventType === "env.created") {
        await client.query(
          `INSERT INTO env_scale (env_id, org_id, app_id, processes, resource_version, last_seq, updated_at)
           VALUES ($1, $2, $3, '[]', 1, $4, $5) ON CONFLICT (env_id) DO NOTHING`,
          [e.aggregateId, p.org_id, p.app_id, e.aggregateSeq, e.occurredAt],
        );
      } else if (e.eventType === "env.scale_set") {
        await client.query(
          `UPDATE env_scale SET processes = (
              SELECT coalesce(jsonb_agg(jsonb_build_object('process_type', t, 'desired', d)
                                        ORDER BY t COLLATE "C"), '[]'::jsonb)
                FROM (SELECT coalesce(n.t, o.t) AS t, coalesce(n.d, o.d) AS d
                        FROM (SELECT x->>'process_type' AS t, x->'desired' AS d
                                FROM jsonb_array_elements(processes) x) o
                        FULL JOIN (SELECT x->>'process_type' AS t, x->'desired' AS d
                                     FROM jsonb_array_elements($2::jsonb) x) n ON n.t = o.t) m),
                  resource_version = resource_version + 1, last_seq = $3, updated_at = $4
            WHERE env_id = $1 AND last_seq < $3`,
          [e.aggregateId, JSON.stringify(p.scales ?? []), e.aggregateSeq, e.occurredAt],
        );
      } else {
        await client.query(
          "UPDATE env_scale SET is_deleted = true, last_seq = $2 WHERE env_id = $1 AND last_seq < $2",
          [e.aggregateId, e.aggregateSeq],
        );
      }
    }
  },
};

export const appsProjections = [appsProjection, envsProjection, envScaleProjection];
