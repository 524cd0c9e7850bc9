// From what a group wants and what the cluster holds to the reconcile core's
// GroupFacts (spec platform.md §6.1, §6.3). Pure: the pass reads, this shapes.
import { effectiveProcess, type NormalisedProcess } from "@plfm/contracts";
import type { ClusterFacts, DeployRow, GroupDesire, GroupRef, InstanceRow } from "./facts.ts";
import type { Block, GroupFacts, InstanceFact } from "./reconcile/rollout-types.ts";
import { groupSpecHash } from "./reconcile/workload.ts";

/** The process as the desired release declares it, or null (no release, or not in it). */
export function processOf(desire: GroupDesire, processType: string): NormalisedProcess | null {
  const processes = desire.release?.manifest.processes;
  return processes && Object.hasOwn(processes, processType) ? (processes[processType] ?? null) : null;
}

/** Desired replicas (§6.1): the env's scale, else the release's scaling.min; 0 without a release or env. */
export function desiredReplicas(desire: GroupDesire, processType: string): number {
  const process = processOf(desire, processType);
  if (!desire.env_live || process === null) return 0;
  return desire.scale ?? process.scaling.min;
}

/** What the new instances of this group get: resources from the merged process settings. */
export function resourcesOf(desire: GroupDesire, processType: string) {
  const merged = desire.release ? effectiveProcess(desire.release.manifest, processType) : undefined;
  return merged
    ? {
        cpu_request: merged.cpu_request,
        memory_limit_bytes: merged.memory_limit_bytes,
        ephemeral_disk_bytes: merged.ephemeral_disk_bytes,
      }
    : null;
}

/** A block the group has before placement is even tried (§6.3 "secrets": required without a version). */
export function preBlock(desire: GroupDesire, processType: string): Block | null {
  const process = processOf(desire, processType);
  if (process?.secrets.required && desire.secrets_version_id === null) {
    return { reason: "secrets_missing", detail: "the process requires secrets and the env has none set" };
  }
  return null;
}

export function groupHash(desire: GroupDesire, processType: string): string | null {
  if (!desire.release || processOf(desire, processType) === null) return null;
  return groupSpecHash({
    release: desire.release,
    process_type: processType,
    secrets_version_id: desire.secrets_version_id,
    mounts: desire.mounts.map(({ home_node_id: _h, ...m }) => m),
  });
}

export function instancesOf(cluster: ClusterFacts, g: GroupRef): InstanceRow[] {
  return cluster.instances.filter((i) => i.env_id === g.env_id && i.process_type === g.process_type);
}

export function instanceFact(row: InstanceRow, cluster: ClusterFacts): InstanceFact {
  return {
    instance_id: row.instance_id,
    node_id: row.node_id,
    spec_hash: row.spec_hash,
    desired_state: row.desired_state,
    status: row.status,
    ...(row.reason_code ? { reason_code: row.reason_code } : {}),
    created_at_ms: row.created_at.getTime(),
    updated_at_ms: row.updated_at.getTime(),
    ...(row.desired_state === "draining" ? { drain_started_at_ms: row.updated_at.getTime() } : {}),
    ...(row.drain_grace_seconds !== null ? { drain_grace_seconds: row.drain_grace_seconds } : {}),
    // A node gone from the views (revoked) is as good as disabled.
    node_state: cluster.nodeState.get(row.node_id) ?? "disabled",
  };
}

/** Live instances per node, all groups: the victim order's "most loaded node". */
export function nodeLoad(cluster: ClusterFacts): Record<string, number> {
  const load: Record<string, number> = {};
  for (const i of cluster.instances) load[i.node_id] = (load[i.node_id] ?? 0) + 1;
  return load;
}

export interface GroupFactsInput {
  g: GroupRef;
  desire: GroupDesire;
  cluster: ClusterFacts;
  deploy: DeployRow | null;
  failures: { at_ms: number; reason_code: string }[];
  lastRecordedBlock: string | null;
  blockNow: Block | null;
  surgePossible: boolean;
  now: Date;
}

export function groupFacts(x: GroupFactsInput): GroupFacts {
  const hash = groupHash(x.desire, x.g.process_type);
  return {
    desired_release_id: hash === null ? null : (x.desire.release?.release_id ?? null),
    desired_replicas: hash === null ? 0 : desiredReplicas(x.desire, x.g.process_type),
    group_spec_hash: hash,
    stateful: x.desire.mounts.length > 0,
    surge_possible: x.surgePossible,
    blocked_reason_now: x.blockNow,
    last_recorded_block: x.lastRecordedBlock,
    deploy: x.deploy
      ? {
          deploy_id: x.deploy.deploy_id,
          status: x.deploy.status,
          created_at_ms: x.deploy.created_at.getTime(),
          process_count: Math.max(1, x.deploy.process_types.length),
        }
      : null,
    instances: instancesOf(x.cluster, x.g).map((r) => instanceFact(r, x.cluster)),
    failures_this_deploy: x.failures,
    node_load: nodeLoad(x.cluster),
    now_ms: x.now.getTime(),
  };
}
