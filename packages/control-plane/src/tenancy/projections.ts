import type { Projection } from "@plfm/kernel";

/** orgs: one row per org, soft-deleted never in v1. Idempotent by resource_version. */
export const orgsProjection: Projection = {
  name: "orgs",
  tables: ["orgs"],
  // org.quota_set too: it moves the org's resource_version (see evolveOrg).
  eventTypes: ["org.created", "org.updated", "org.quota_set"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as Record<string, unknown>;
      if (e.eventType === "org.created") {
        await client.query(
          `INSERT INTO orgs (org_id, name, billing_email, resource_version, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (org_id) DO NOTHING`,
          [e.aggregateId, p.name, p.billing_email ?? null, e.aggregateSeq, e.occurredAt],
        );
      } else if (e.eventType === "org.quota_set") {
        await client.query(
          `UPDATE orgs SET resource_version = $2, updated_at = $3 WHERE org_id = $1 AND resource_version < $2`,
          [e.aggregateId, e.aggregateSeq, e.occurredAt],
        );
      } else {
        await client.query(
          `UPDATE orgs SET name = coalesce($2, name), billing_email = coalesce($3, billing_email),
                  resource_version = $4, updated_at = $5
            WHERE org_id = $1 AND resource_version < $4`,
          [e.aggregateId, p.name ?? null, p.billing_email ?? null, e.aggregateSeq, e.occurredAt],
        );
      }
    }
  },
};

/** org_members: who belongs to which org, with which role. Idempotent by resource_version. */
export const orgMembersProjection: Projection = {
  name: "org_members",
  tables: ["org_members"],
  eventTypes: ["org_member.added", "org_member.role_updated", "org_member.removed"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as Record<string, unknown>;
      if (e.eventType === "org_member.added") {
        await client.query(
          `INSERT INTO org_members (member_id, org_id, user_id, email, role, resource_version, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (member_id) DO NOTHING`,
          [e.aggregateId, p.org_id, p.user_id, p.email, p.role, e.aggregateSeq, e.occurredAt],
        );
      } else {
        await client.query(
          `UPDATE org_members SET role = coalesce($2, role), is_deleted = $3,
                  resource_version = $4, updated_at = $5
            WHERE member_id = $1 AND resource_version < $4`,
          [
            e.aggregateId,
            p.new_role ?? null,
            e.eventType === "org_member.removed",
            e.aggregateSeq,
            e.occurredAt,
          ],
        );
      }
    }
  },
};

/** projects: soft-deleted on project.deleted. Idempotent by resource_version. */
export const projectsProjection: Projection = {
  name: "projects",
  tables: ["projects"],
  eventTypes: ["project.created", "project.updated", "project.deleted"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as Record<string, unknown>;
      if (e.eventType === "project.created") {
        await client.query(
          `INSERT INTO projects (project_id, org_id, name, resource_version, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (project_id) DO NOTHING`,
          [e.aggregateId, p.org_id, p.name, e.aggregateSeq, e.occurredAt],
        );
      } else {
        await client.query(
          `UPDATE projects SET name = coalesce($2, name), is_deleted = $3,
                  resource_version = $4, updated_at = $5
            WHERE project_id = $1 AND resource_version < $4`,
          [e.aggregateId, p.name ?? null, e.eventType === "project.deleted", e.aggregateSeq, e.occurredAt],
        );
      }
    }
  },
};

/**
 * org_quotas: the quotas operators set. `set_seq` (the org event's seq) makes
 * a re-applied event a no-op; resource_version counts the sets per dimension.
 */
export const orgQuotasProjection: Projection = {
  name: "org_quotas",
  tables: ["org_quotas"],
  eventTypes: ["org.quota_set"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as Record<string, unknown>;
      await client.query(
        `INSERT INTO org_quotas (org_id, dimension, limit_value, resource_version, set_seq, updated_at)
         VALUES ($1, $2, $3, 1, $4, $5)
         ON CONFLICT (org_id, dimension) DO UPDATE
           SET limit_value = EXCLUDED.limit_value, resource_version = org_quotas.resource_version + 1,
               set_seq = EXCLUDED.set_seq, updated_at = EXCLUDED.updated_at
         WHERE org_quotas.set_seq < EXCLUDED.set_seq`,
        [e.aggregateId, p.dimension, p.limit_value ?? null, e.aggregateSeq, e.occurredAt],
      );
    }
  },
};

export const tenancyProjections = [
  orgsProjection,
  orgMembersProjection,
  projectsProjection,
  orgQuotasProjection,
];
