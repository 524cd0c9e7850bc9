// The instances of a NodePlan (spec platform.md §7.2): every instance of the
// node that is still meant to run or drain, each with the WorkloadSpec the
// agent runs. Read in four queries per plan (instances, releases, the node's
// arch, the envs' mounts), whatever the number of instances.
import type { NormalisedManifest } from "@plfm/contracts";
import type { Queryable } from "@plfm/kernel";
import {
  cpuShape,
  type MountFact,
  type ReleaseFacts,
  type WorkloadSpec,
  workloadSpec,
} from "../scheduler/reconcile/index.ts";

export interface PlanInstance {
  assignment_id: string;
  node_id: string;
  instance_id: string;
  generation: 1;
  desired_state: "running" | "draining" | "stopped";
  drain_grace_seconds: number;
  workload?: WorkloadSpec;
}

interface InstanceRow {
  instance_id: string;
  org_id: string;
  app_id: string;
  env_id: string;
  process_type: string;
  release_id: string;
  secrets_version_id: string | null;
  overlay_ipv6: string;
  resources_snapshot: Record<string, unknown>;
  desired_state: PlanInstance["desired_state"];
  drain_grace_seconds: number | null;
}

interface MountRow extends MountFact {
  env_id: string;
  process_type: string;
}

const DEFAULT_DRAIN_GRACE_SECONDS = 10;

/**
 * The node's instances in id order. Stopped and failed ones are gone from the
 * plan (the agent stops, after drain, anything absent). An instance whose
 * release or node arch cannot be read is listed without a workload rather
 * than dropped: dropping it would tell the agent to stop a running instance.
 */
export async function planInstances(db: Queryable, nodeId: string): Promise<PlanInstance[]> {
  const { rows } = await db.query<InstanceRow>(
    `SELECT instance_id, org_id, app_id, env_id, process_type, release_id, secrets_version_id, overlay_ipv6,
            resources_snapshot, desired_state, drain_grace_seconds
       FROM instances
      WHERE node_id = $1 AND desired_state <> 'stopped' AND status NOT IN ('stopped', 'failed')
      ORDER BY instance_id`,
    [nodeId],
  );
  if (rows.length === 0) return [];
  // One after the other: `db` may be a single client, which runs one query at a time anyway.
  const releases = await releasesById(db, [...new Set(rows.map((r) => r.release_id))]);
  const arch = await archOf(db, nodeId);
  const mounts = await mountsOf(db, [...new Set(rows.map((r) => r.env_id))]);
  return rows.map((row) => {
    const entry: PlanInstance = {
      assignment_id: `asgn_${row.instance_id.slice("inst_".length)}`,
      node_id: nodeId,
      instance_id: row.instance_id,
      generation: 1,
      desired_state: row.desired_state,
      drain_grace_seconds: row.drain_grace_seconds ?? DEFAULT_DRAIN_GRACE_SECONDS,
    };
    const release = releases.get(row.release_id);
    if (row.desired_state === "stopped" || !release || !arch) return entry;
    const workload = buildWorkload(row, release, arch, mounts.get(`${row.env_id}/${row.process_type}`) ?? []);
    return workload ? { ...entry, workload } : entry;
  });
}

/** null when the release cannot run this instance (no such process, no image for the arch). */
function buildWorkload(
  row: InstanceRow,
  release: ReleaseFacts,
  arch: string,
  mounts: MountFact[],
): WorkloadSpec | null {
  let spec: WorkloadSpec;
  try {
    spec = workloadSpec({
      release,
      process_type: row.process_type,
      secrets_version_id: row.secrets_version_id,
      mounts,
      org_id: row.org_id,
      app_id: row.app_id,
      env_id: row.env_id,
      instance: { instance_id: row.instance_id, overlay_ipv6: row.overlay_ipv6, arch },
    });
  } catch {
    // workloadSpec throws only for a release that cannot serve this process or arch, which placement
    // rules out; one such instance must not take the whole plan down with it.
    return null;
  }
  return { ...spec, resources: resourcesOf(row.resources_snapshot, spec.resources) };
}

/**
 * The node enforces what the scheduler reserved for the instance (its
 * snapshot), falling back to the release's values field by field.
 */
function resourcesOf(snapshot: Record<string, unknown>, fromRelease: WorkloadSpec["resources"]) {
  const num = (v: unknown, d: number) => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : d);
  const cpu = num(snapshot.cpu_request, fromRelease.cpu_request);
  return {
    cpu_request: cpu,
    memory_limit_bytes: num(snapshot.memory_limit_bytes, fromRelease.memory_limit_bytes),
    ephemeral_disk_bytes: num(snapshot.ephemeral_disk_bytes, fromRelease.ephemeral_disk_bytes),
    ...cpuShape(cpu),
  };
}

async function releasesById(db: Queryable, ids: string[]): Promise<Map<string, ReleaseFacts>> {
  const { rows } = await db.query<ReleaseFacts>(
    `SELECT release_id, image_ref, index_or_manifest_digest, resolved_digests, manifest, manifest_hash, command
       FROM releases WHERE release_id = ANY($1::text[])`,
    [ids],
  );
  return new Map(rows.map((r) => [r.release_id, { ...r, manifest: r.manifest as NormalisedManifest }]));
}

async function archOf(db: Queryable, nodeId: string): Promise<string | null> {
  const { rows } = await db.query<{ arch: string | null }>(
    "SELECT labels->>'arch' AS arch FROM nodes WHERE node_id = $1",
    [nodeId],
  );
  return rows[0]?.arch ?? null;
}

/** The live attachments of these envs with their volumes' filesystems, keyed by env and process type. */
async function mountsOf(db: Queryable, envIds: string[]): Promise<Map<string, MountFact[]>> {
  const { rows } = await db.query<MountRow>(
    `SELECT a.env_id, a.process_type, a.volume_id, a.mount_path, a.read_only, v.filesystem
       FROM volume_attachments a JOIN volumes v ON v.volume_id = a.volume_id
      WHERE a.env_id = ANY($1::text[]) AND NOT a.is_deleted AND NOT v.is_deleted`,
    [envIds],
  );
  const byGroup = new Map<string, MountFact[]>();
  for (const r of rows) {
    const key = `${r.env_id}/${r.process_type}`;
    const list = byGroup.get(key) ?? [];
    list.push({
      volume_id: r.volume_id,
      mount_path: r.mount_path,
      read_only: r.read_only,
      filesystem: r.filesystem,
    });
    byGroup.set(key, list);
  }
  return byGroup;
}
