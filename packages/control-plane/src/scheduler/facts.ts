// What one scheduler pass reads (spec platform.md §6.1): the views, turned
// into the plain facts the pure cores take. Reads only; the pass decides and
// writes. Every query reads whole tables or one env, never per instance.
import type { NormalisedManifest } from "@plfm/contracts";
import type { Queryable } from "@plfm/kernel";
import type { DeployStatus } from "../apps/deploy.ts";
import type { DesiredState, InstanceStatus } from "../apps/instance.ts";
import type { NodeState } from "../fleet/node.ts";
import { IPAM_COOLDOWN_MS } from "./placement/ipam.ts";
import type { IpamState, LiveInstance, NodeFacts } from "./placement/types.ts";
import type { MountFact, ReleaseFacts } from "./reconcile/workload.ts";

/** Window in which boot failures on a node lower its score (§6.2). */
const BOOT_FAILURE_WINDOW_MS = 10 * 60_000;

export interface InstanceRow {
  instance_id: string;
  org_id: string;
  app_id: string;
  env_id: string;
  process_type: string;
  node_id: string;
  release_id: string;
  deploy_id: string | null;
  secrets_version_id: string | null;
  overlay_ipv6: string;
  memory_limit_bytes: number;
  cpu_request: number;
  spec_hash: string;
  desired_state: DesiredState;
  status: InstanceStatus;
  reason_code: string | null;
  drain_grace_seconds: number | null;
  reported_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** Every node and every instance not yet recorded stopped: the cluster as placement sees it. */
export interface ClusterFacts {
  nodes: NodeFacts[];
  nodeState: Map<string, NodeState>;
  instances: InstanceRow[];
  ipam: IpamState;
}

export async function readCluster(db: Queryable, now: Date): Promise<ClusterFacts> {
  const [nodes, instances, ipam] = await Promise.all([
    db.query<{
      node_id: string;
      state: NodeState;
      roles: string[];
      labels: Record<string, string>;
      allocatable: { cpu_cores?: number; memory_bytes?: number } | null;
      reserved: { memory_bytes?: number } | null;
      last_heartbeat_at: Date | null;
    }>(
      `SELECT n.node_id, n.state, n.roles, n.labels, n.allocatable, n.reserved, h.last_heartbeat_at
         FROM nodes n LEFT JOIN node_heartbeats h ON h.node_id = n.node_id
        WHERE NOT n.is_deleted ORDER BY n.node_id`,
    ),
    db.query<InstanceRow>(
      `SELECT instance_id, org_id, app_id, env_id, process_type, node_id, release_id, deploy_id,
              secrets_version_id, overlay_ipv6,
              (resources_snapshot->>'memory_limit_bytes')::bigint::float8 AS memory_limit_bytes,
              (resources_snapshot->>'cpu_request')::float8 AS cpu_request,
              spec_hash, desired_state, status, reason_code, drain_grace_seconds, reported_at,
              created_at, updated_at
         FROM instances WHERE desired_state <> 'stopped' ORDER BY instance_id`,
    ),
    readIpam(db, now),
  ]);
  const failures = new Map<string, number>();
  const { rows: failed } = await db.query<{ node_id: string; n: number }>(
    `SELECT node_id, count(*)::int AS n FROM instances
      WHERE status = 'failed' AND reported_at > $1 GROUP BY node_id`,
    [new Date(now.getTime() - BOOT_FAILURE_WINDOW_MS)],
  );
  for (const r of failed) failures.set(r.node_id, r.n);
  return {
    nodes: nodes.rows.map((n) => ({
      node_id: n.node_id,
      state: n.state,
      roles: n.roles,
      arch: n.labels.arch ?? "",
      allocatable: {
        cpu_cores: Number(n.allocatable?.cpu_cores ?? 0),
        memory_bytes: Number(n.allocatable?.memory_bytes ?? 0),
      },
      reserved_memory_bytes: Number(n.reserved?.memory_bytes ?? 0),
      last_heartbeat_at: n.last_heartbeat_at?.getTime() ?? null,
      recent_boot_failures: failures.get(n.node_id) ?? 0,
      // A degraded node says so through its state; nothing else reports health yet.
      healthy: true,
    })),
    nodeState: new Map(nodes.rows.map((n) => [n.node_id, n.state])),
    instances: instances.rows,
    ipam,
  };
}

/** Addresses in use, and those released within the cooldown (§8.1). */
export async function readIpam(db: Queryable, now: Date): Promise<IpamState> {
  const { rows } = await db.query<{ overlay_ipv6: string; released_at: Date | null }>(
    `SELECT overlay_ipv6, released_at FROM instance_addresses
      WHERE released_at IS NULL OR released_at > $1`,
    [new Date(now.getTime() - IPAM_COOLDOWN_MS)],
  );
  const used = new Set<string>();
  const cooling = new Map<string, number>();
  for (const r of rows) {
    if (r.released_at === null) used.add(r.overlay_ipv6);
    else cooling.set(r.overlay_ipv6, r.released_at.getTime());
  }
  return { used, cooling };
}

/** The placement core's view of an instance row. */
export function liveInstance(row: InstanceRow, volumeIds: readonly string[] = []): LiveInstance {
  return {
    instance_id: row.instance_id,
    node_id: row.node_id,
    group: { env_id: row.env_id, process_type: row.process_type },
    memory_limit_bytes: row.memory_limit_bytes,
    cpu_request: row.cpu_request,
    volume_ids: volumeIds,
    overlay_ipv6: row.overlay_ipv6,
    desired_state: row.desired_state,
    status: row.status,
  };
}

/** One (env, process type) the scheduler is responsible for. */
export interface GroupRef {
  org_id: string;
  app_id: string;
  env_id: string;
  process_type: string;
}

/**
 * Every group with something to do or undo: a desired release, a scale, or
 * instances still meant to run (of a process type no longer deployed, or of
 * a deleted env).
 */
export async function listGroups(db: Queryable): Promise<GroupRef[]> {
  const { rows } = await db.query<GroupRef>(
    `SELECT org_id, app_id, env_id, process_type FROM env_desired_releases
     UNION
     SELECT s.org_id, s.app_id, s.env_id, p->>'process_type'
       FROM env_scale s, jsonb_array_elements(s.processes) p WHERE NOT s.is_deleted
     UNION
     SELECT org_id, app_id, env_id, process_type FROM instances WHERE desired_state <> 'stopped'
     ORDER BY env_id, process_type`,
  );
  return rows;
}

/** What a group wants, from the env's views. */
export interface GroupDesire {
  env_live: boolean;
  release: ReleaseFacts | null;
  deploy_id: string | null;
  /** The env's scale for this process, if set (§6.1). */
  scale: number | null;
  secrets_version_id: string | null;
  mounts: (MountFact & { home_node_id: string })[];
}

export async function readGroupDesire(db: Queryable, g: GroupRef): Promise<GroupDesire> {
  const [env, desired, scale, secrets, mounts] = await Promise.all([
    db.query<{ is_deleted: boolean }>("SELECT is_deleted FROM envs WHERE env_id = $1", [g.env_id]),
    db.query<{
      deploy_id: string;
      release_id: string;
      image_ref: string;
      index_or_manifest_digest: string;
      resolved_digests: ReleaseFacts["resolved_digests"];
      manifest: NormalisedManifest;
      manifest_hash: string;
      command: string[];
    }>(
      `SELECT d.deploy_id, r.release_id, r.image_ref, r.index_or_manifest_digest, r.resolved_digests,
              r.manifest, r.manifest_hash, r.command
         FROM env_desired_releases d JOIN releases r ON r.release_id = d.release_id
        WHERE d.env_id = $1 AND d.process_type = $2`,
      [g.env_id, g.process_type],
    ),
    db.query<{ processes: { process_type: string; desired: number }[] }>(
      "SELECT processes FROM env_scale WHERE env_id = $1 AND NOT is_deleted",
      [g.env_id],
    ),
    db.query<{ current_version_id: string | null }>(
      "SELECT current_version_id FROM secret_bundles WHERE env_id = $1 AND NOT is_deleted",
      [g.env_id],
    ),
    db.query<MountFact & { home_node_id: string }>(
      `SELECT a.volume_id, a.mount_path, a.read_only, v.filesystem, v.home_node_id
         FROM volume_attachments a JOIN volumes v ON v.volume_id = a.volume_id
        WHERE a.env_id = $1 AND a.process_type = $2 AND NOT a.is_deleted
        ORDER BY a.volume_id, a.mount_path`,
      [g.env_id, g.process_type],
    ),
  ]);
  const d = desired.rows[0];
  const scaled = scale.rows[0]?.processes.find((p) => p.process_type === g.process_type);
  return {
    env_live: env.rows[0] !== undefined && !env.rows[0].is_deleted,
    release: d
      ? {
          release_id: d.release_id,
          image_ref: d.image_ref,
          index_or_manifest_digest: d.index_or_manifest_digest,
          resolved_digests: d.resolved_digests,
          manifest: d.manifest,
          manifest_hash: d.manifest_hash,
          command: d.command,
        }
      : null,
    deploy_id: d?.deploy_id ?? null,
    scale: scaled ? scaled.desired : null,
    secrets_version_id: secrets.rows[0]?.current_version_id ?? null,
    mounts: mounts.rows,
  };
}

export interface DeployRow {
  deploy_id: string;
  status: DeployStatus;
  process_types: string[];
  created_at: Date;
}

export async function readDeploy(db: Queryable, deployId: string): Promise<DeployRow | null> {
  const { rows } = await db.query<DeployRow>(
    "SELECT deploy_id, status, process_types, created_at FROM deploys WHERE deploy_id = $1",
    [deployId],
  );
  return rows[0] ?? null;
}
