import type { Projection } from "@plfm/kernel";

/** orgs: one row per org, soft-deleted never in v1. Idempotent by resource_version. */
export const orgsProjection: Projection = {
  name: "orgs",
  tables: ["orgs"],
  eventTypes: ["org.created", "org.updated"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as Record<string, unknown>;
      if (e.eventType === "org.created") {
        await client.query(
          `INSERT INTO orgs (org_id, name, billing_email, resource_version, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (org_id) DO NOTHING`,
          [e.aggregateId, p.name, p.billing_email ?? null, e.aggregateSeq, e.occurredAt],
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

/** org_members: who belongs to which org, with which role. */
export const orgMembersProjection: Projection = {
  name: "org_members",
  tables: ["org_members"],
  eventTypes: ["org_member.added"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as Record<string, unknown>;
      await client.query(
        `INSERT INTO org_members (member_id, org_id, user_id, email, role, resource_version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (member_id) DO NOTHING`,
        [e.aggregateId, p.org_id, p.user_id, p.email, p.role, e.aggregateSeq, e.occurredAt],
      );
    }
  },
};

export const tenancyProjections = [orgsProjection, orgMembersProjection];
