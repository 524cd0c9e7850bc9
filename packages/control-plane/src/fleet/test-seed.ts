// For other contexts' tests: a row in the `nodes` view without enrolling a
// node over HTTP (storage picks home nodes from it). Not used in production.
import type { Queryable } from "@plfm/kernel";

/** Inserts (or resets) node `nodeId` in the nodes view with this state and roles. */
export async function seedNode(db: Queryable, nodeId: string, state: string, roles: string[]): Promise<void> {
  const suffix = nodeId
    .slice(-4)
    .toLowerCase()
    .replace(/[^0-9a-f]/g, "0");
  await db.query(
    `INSERT INTO nodes (node_id, hostname, roles, state, labels, wireguard_public_key, overlay_ipv6,
                        enrolled_at, resource_version, created_at, updated_at)
     VALUES ($1, $1, $2, $3, '{"arch":"amd64"}', $1, $4, now(), 1, now(), now())
     ON CONFLICT (node_id) DO UPDATE SET state = excluded.state, roles = excluded.roles, is_deleted = false`,
    [nodeId, roles, state, `fd70:6c66::ffff:${suffix}`],
  );
}
