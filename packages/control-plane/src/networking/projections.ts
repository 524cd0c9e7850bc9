// The networking views. Each apply is idempotent: inserts do nothing on a
// known id and updates only move forward (guarded by the aggregate sequence).
// TODO(scheduler): route_backends (route → ready instances' {instance_id,
// overlay_ipv6, port}) needs the instances projection; add it with the
// scheduler issue.
import type { Projection } from "@plfm/kernel";

/** routes: one row per route; deletes are soft. */
export const routesProjection: Projection = {
  name: "routes",
  tables: ["routes"],
  eventTypes: ["route.created", "route.updated", "route.deleted"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as Record<string, unknown>;
      if (e.eventType === "route.created") {
        await client.query(
          `INSERT INTO routes (route_id, org_id, app_id, env_id, hostname, listen_port, protocol_hint,
                  backend_process_type, backend_port, proxy_protocol, backend_expects_proxy_protocol,
                  ipv4_required, resource_version, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)
           ON CONFLICT (route_id) DO NOTHING`,
          [
            e.aggregateId,
            p.org_id,
            p.app_id,
            p.env_id,
            p.hostname,
            p.listen_port,
            p.protocol_hint,
            p.backend_process_type,
            p.backend_port,
            p.proxy_protocol,
            p.backend_expects_proxy_protocol,
            p.ipv4_required,
            e.aggregateSeq,
            e.occurredAt,
          ],
        );
      } else if (e.eventType === "route.updated") {
        await client.query(
          `UPDATE routes SET backend_process_type = coalesce($2, backend_process_type),
                  backend_port = coalesce($3, backend_port), proxy_protocol = coalesce($4, proxy_protocol),
                  backend_expects_proxy_protocol = coalesce($5, backend_expects_proxy_protocol),
                  ipv4_required = coalesce($6, ipv4_required), resource_version = $7, updated_at = $8
            WHERE route_id = $1 AND resource_version < $7`,
          [
            e.aggregateId,
            p.backend_process_type ?? null,
            p.backend_port ?? null,
            p.proxy_protocol ?? null,
            p.backend_expects_proxy_protocol ?? null,
            p.ipv4_required ?? null,
            e.aggregateSeq,
            e.occurredAt,
          ],
        );
      } else {
        await client.query(
          `UPDATE routes SET is_deleted = true, resource_version = $2, updated_at = $3
            WHERE route_id = $1 AND resource_version < $2`,
          [e.aggregateId, e.aggregateSeq, e.occurredAt],
        );
      }
    }
  },
};

/** env_networking: the env's IPv4 add-on. Envs without a row have it off. */
export const envNetworkingProjection: Projection = {
  name: "env_networking",
  tables: ["env_networking"],
  eventTypes: ["env.ipv4_addon_enabled", "env.ipv4_addon_disabled"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as Record<string, unknown>;
      const enabled = e.eventType === "env.ipv4_addon_enabled";
      await client.query(
        `INSERT INTO env_networking AS n (env_id, org_id, app_id, ipv4_enabled, ipv4_address,
                ipv4_allocation_id, enabled_at, last_seq, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (env_id) DO UPDATE SET ipv4_enabled = EXCLUDED.ipv4_enabled,
                ipv4_address = EXCLUDED.ipv4_address, ipv4_allocation_id = EXCLUDED.ipv4_allocation_id,
                enabled_at = EXCLUDED.enabled_at, last_seq = EXCLUDED.last_seq, updated_at = EXCLUDED.updated_at
          WHERE n.last_seq < EXCLUDED.last_seq`,
        [
          e.aggregateId,
          p.org_id,
          e.appId,
          enabled,
          enabled ? p.ipv4_address : null,
          enabled ? p.allocation_id : null,
          enabled ? p.enabled_at : null,
          e.aggregateSeq,
          e.occurredAt,
        ],
      );
    }
  },
};

export const networkingProjections = [routesProjection, envNetworkingProjection];
