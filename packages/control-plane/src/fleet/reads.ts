// Reads of the nodes view, joined with the latest heartbeat (heartbeats are
// not events, so last_heartbeat_at never comes from the projection).
import { KernelError, type Queryable } from "@plfm/kernel";

export interface NodeView {
  node_id: string;
  hostname: string;
  roles: string[];
  state: string;
  state_reason: string | null;
  labels: Record<string, string>;
  public_ipv6: string | null;
  public_ipv4: string | null;
  wireguard_public_key: string;
  overlay_ipv6: string;
  allocatable: Record<string, number> | null;
  reserved: Record<string, number> | null;
  mtu: number | null;
  key_generation: number;
  enrolled_at: string;
  last_heartbeat_at: string | null;
  /**
   * On a draining node: the stateful instances that stay until their volume
   * moves by snapshot and restore (§6.3), with the volume that pins each.
   */
  drain_blocked_by: { instance_id: string; volume_id: string }[];
  resource_version: number;
  created_at: string;
  updated_at: string;
}

const SELECT_NODE = `
  SELECT n.node_id, n.hostname, n.roles, n.state, n.state_reason, n.labels, n.public_ipv6, n.public_ipv4,
         n.wireguard_public_key, n.overlay_ipv6, n.allocatable, n.reserved, n.mtu, n.key_generation,
         n.enrolled_at, h.last_heartbeat_at, n.resource_version, n.created_at, n.updated_at,
         CASE WHEN n.state <> 'draining' THEN '[]'::jsonb ELSE coalesce((
           SELECT jsonb_agg(jsonb_build_object('instance_id', i.instance_id, 'volume_id', a.volume_id)
                            ORDER BY i.instance_id, a.volume_id)
             FROM instances i
             JOIN volume_attachments a
               ON a.env_id = i.env_id AND a.process_type = i.process_type AND NOT a.is_deleted
            WHERE i.node_id = n.node_id AND i.desired_state = 'running' AND i.status NOT IN ('stopped', 'failed')
         ), '[]'::jsonb) END AS drain_blocked_by
    FROM nodes n LEFT JOIN node_heartbeats h ON h.node_id = n.node_id`;

type Row = Omit<NodeView, "enrolled_at" | "last_heartbeat_at" | "created_at" | "updated_at"> & {
  enrolled_at: Date;
  last_heartbeat_at: Date | null;
  created_at: Date;
  updated_at: Date;
};

const toView = (r: Row): NodeView => ({
  ...r,
  enrolled_at: r.enrolled_at.toISOString(),
  last_heartbeat_at: r.last_heartbeat_at?.toISOString() ?? null,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
});

/** One live node, or 404 (revoked nodes are soft-deleted). */
export async function readNode(db: Queryable, nodeId: string): Promise<NodeView> {
  const { rows } = await db.query<Row>(`${SELECT_NODE} WHERE n.node_id = $1 AND NOT n.is_deleted`, [nodeId]);
  const row = rows[0];
  if (!row) throw new KernelError("not_found", "No such node.");
  return toView(row);
}

/** Live nodes after `after` in id order, at most `limit`. */
export async function listNodes(db: Queryable, after: string, limit: number): Promise<NodeView[]> {
  const { rows } = await db.query<Row>(
    `${SELECT_NODE} WHERE NOT n.is_deleted AND n.node_id > $1 ORDER BY n.node_id LIMIT $2`,
    [after, limit],
  );
  return rows.map(toView);
}

export interface Peer {
  node_id: string;
  public_key: string;
  endpoint: string | null;
  allowed_ips: string[];
}

/**
 * The WireGuard peers of `nodeId`: every other live node, with its /128
 * (instance /128s join when instances exist). Endpoint prefers IPv6 (§8.2).
 */
export async function peersOf(db: Queryable, nodeId: string): Promise<Peer[]> {
  const { rows } = await db.query<{
    node_id: string;
    wireguard_public_key: string;
    overlay_ipv6: string;
    public_ipv6: string | null;
    public_ipv4: string | null;
  }>(
    `SELECT node_id, wireguard_public_key, overlay_ipv6, public_ipv6, public_ipv4 FROM nodes
      WHERE NOT is_deleted AND node_id <> $1 ORDER BY node_id`,
    [nodeId],
  );
  return rows.map((r) => ({
    node_id: r.node_id,
    public_key: r.wireguard_public_key,
    endpoint: r.public_ipv6 ? `[${r.public_ipv6}]:51820` : r.public_ipv4 ? `${r.public_ipv4}:51820` : null,
    allowed_ips: [`${r.overlay_ipv6}/128`],
  }));
}
