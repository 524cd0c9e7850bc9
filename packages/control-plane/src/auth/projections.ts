import type { Projection } from "@plfm/kernel";

/**
 * service_principals: one row per principal, soft-deleted. Idempotent: the
 * insert ignores a row already there, updates only move resource_version up.
 */
export const servicePrincipalsProjection: Projection = {
  name: "service_principals",
  tables: ["service_principals"],
  eventTypes: [
    "service_principal.created",
    "service_principal.scopes_updated",
    "service_principal.secret_rotated",
    "service_principal.deleted",
  ],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as Record<string, unknown>;
      const values = [e.aggregateId, e.aggregateSeq, e.occurredAt];
      switch (e.eventType) {
        case "service_principal.created":
          await client.query(
            `INSERT INTO service_principals (service_principal_id, org_id, name, scopes, resource_version,
                                             created_at, updated_at)
             VALUES ($1, $4, $5, $6, $2, $3, $3) ON CONFLICT (service_principal_id) DO NOTHING`,
            [...values, p.org_id, p.name, p.scopes],
          );
          break;
        case "service_principal.scopes_updated":
          await client.query(
            `UPDATE service_principals SET scopes = $4, resource_version = $2, updated_at = $3
              WHERE service_principal_id = $1 AND resource_version < $2`,
            [...values, p.scopes],
          );
          break;
        case "service_principal.secret_rotated":
          await client.query(
            `UPDATE service_principals SET secret_rotated_at = $4, resource_version = $2, updated_at = $3
              WHERE service_principal_id = $1 AND resource_version < $2`,
            [...values, p.rotated_at],
          );
          break;
        case "service_principal.deleted":
          await client.query(
            `UPDATE service_principals SET is_deleted = true, resource_version = $2, updated_at = $3
              WHERE service_principal_id = $1 AND resource_version < $2`,
            values,
          );
          break;
      }
    }
  },
};

export const authProjections: Projection[] = [servicePrincipalsProjection];
