import type { Projection } from "@plfm/kernel";

/**
 * nodes: one row per node. Idempotent by resource_version (= the event's
 * aggregate seq). A revoked node stays as a soft-deleted, disabled row.
 */
export const nodesProjection: Projection = {
  name: "nodes",
  tables: ["nodes"],
  eventTypes: [
    "node.enrolled",
    "node.state_changed",
    "node.capacity_updated",
    "node.wireguard_key_rotated",
    "node.credential_rotated",
    "node.revoked",
  ],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as Record<string, unknown>;
      const id = e.aggregateId;
      const seq = e.aggregateSeq;
      const at = e.occurredAt;
      if (e.eventType === "node.enrolled") {
        await client.query(
          `INSERT INTO nodes (node_id, hostname, roles, state, labels, public_ipv6, public_ipv4,
                              wireguard_public_key, overlay_ipv6, enrolled_at, resource_version,
                              created_at, updated_at)
           VALUES ($1, $2, $3, 'enrolled', $4, $5, $6, $7, $8, $9, $10, $11, $11)
           ON CONFLICT (node_id) DO NOTHING`,
          [
            id,
            p.hostname,
            p.roles,
            JSON.stringify(p.labels ?? {}),
            p.public_ipv6 ?? null,
            p.public_ipv4 ?? null,
            p.wireguard_public_key,
            p.overlay_ipv6,
            p.enrolled_at,
            seq,
            at,
          ],
        );
        continue;
      }
      // Every later event bumps the version; the CASE arms set what it changes.
      await client.query(
        `UPDATE nodes SET
            state = CASE WHEN $3 = 'node.state_changed' THEN $4
                         WHEN $3 = 'node.revoked' THEN 'disabled' ELSE state END,
            state_reason = CASE WHEN $3 IN ('node.state_changed', 'node.revoked') THEN $5 ELSE state_reason END,
            allocatable = CASE WHEN $3 = 'node.capacity_updated' THEN $6::jsonb ELSE allocatable END,
            reserved = CASE WHEN $3 = 'node.capacity_updated' THEN $7::jsonb ELSE reserved END,
            mtu = CASE WHEN $3 = 'node.capacity_updated' THEN coalesce($8, mtu) ELSE mtu END,
            wireguard_public_key = CASE WHEN $3 = 'node.wireguard_key_rotated' THEN $9 ELSE wireguard_public_key END,
            key_generation = CASE WHEN $3 = 'node.wireguard_key_rotated' THEN $10 ELSE key_generation END,
            revoked_at = CASE WHEN $3 = 'node.revoked' THEN $11::timestamptz ELSE revoked_at END,
            is_deleted = is_deleted OR $3 = 'node.revoked',
            resource_version = $2, updated_at = $12
          WHERE node_id = $1 AND resource_version < $2`,
        [
          id,
          seq,
          e.eventType,
          p.state ?? null,
          p.reason ?? null,
          p.allocatable === undefined ? null : JSON.stringify(p.allocatable),
          p.reserved === undefined ? null : JSON.stringify(p.reserved),
          p.mtu ?? null,
          p.wireguard_public_key ?? null,
          p.key_generation ?? null,
          p.revoked_at ?? null,
          at,
        ],
      );
    }
  },
};

export const fleetProjections: readonly Projection[] = [nodesProjection];
