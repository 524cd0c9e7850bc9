// The NodePlan (spec platform.md §7.2): what a node should run. Volumes and
// storage jobs come with the storage controllers (later issues), so for now
// they are empty; instances and the overlay are real.
import { createHash } from "node:crypto";
import { encodeCursor, headPosition, KernelError, type Queryable } from "@plfm/kernel";
import { type PlanInstance, planInstances } from "./plan-instances.ts";
import { type Peer, peersOf } from "./reads.ts";

export interface NodePlan {
  spec_version: "v1";
  node_id: string;
  plan_id: string;
  /** The event-log position the plan reflects (a resumable cursor). */
  cursor: string;
  created_at: string;
  instances: PlanInstance[];
  overlay: {
    config_revision: string;
    node_overlay_ipv6: string;
    listen_port: number;
    mtu: number;
    peers: Peer[];
  };
  volumes: unknown[];
  storage_jobs: unknown[];
}

/**
 * Builds the current plan of `nodeId` from the views. The overlay address
 * comes from IPAM (written with the enrollment), so the plan does not wait
 * for the nodes projection for the node's own address.
 */
export async function buildPlan(db: Queryable, nodeId: string, now: Date): Promise<NodePlan> {
  // The cursor first: views read after it are at least that fresh.
  const cursor = encodeCursor(await headPosition(db));
  const { rows } = await db.query<{ overlay_ipv6: string }>(
    "SELECT overlay_ipv6 FROM ipam_nodes WHERE node_id = $1",
    [nodeId],
  );
  const own = rows[0];
  if (!own) throw new KernelError("not_found", "No such node.");
  const peers = await peersOf(db, nodeId);
  const overlay = { node_overlay_ipv6: own.overlay_ipv6, listen_port: 51820, mtu: 1420, peers };
  const configRevision = createHash("sha256").update(JSON.stringify(overlay)).digest("hex").slice(0, 16);
  const instances = await planInstances(db, nodeId);
  // Every field of every entry is hashed, workloads included, so any change to one moves the plan id.
  const planHash = createHash("sha256")
    .update(JSON.stringify({ instances, configRevision }))
    .digest("hex")
    .slice(0, 26);
  return {
    spec_version: "v1",
    node_id: nodeId,
    plan_id: `plan_${planHash}`,
    cursor,
    created_at: now.toISOString(),
    instances,
    overlay: { config_revision: configRevision, ...overlay },
    volumes: [],
    storage_jobs: [],
  };
}
