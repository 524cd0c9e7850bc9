// One scheduler pass (spec platform.md §6.3): silent nodes go offline, then
// every group is reconciled in its own transaction, then each active deploy
// gets the verdict of all its groups. The cluster facts are read once and
// kept current in memory as the pass places instances, so two groups placed
// in one pass never share memory or an address.
import {
  handleCommand,
  KernelError,
  newId,
  type Pool,
  type PoolClient,
  type Position,
  type Queryable,
  withTransaction,
} from "@plfm/kernel";
import { decideDeployStatus, deployAggregate } from "../apps/index.ts";
import { decideOffline, nodeAggregate } from "../fleet/index.ts";
import {
  allocateInstances,
  drainInstance,
  Positions,
  recordBlock,
  recordedBlock,
  SCHEDULER_META,
  stopInstance,
  writeStatus,
} from "./apply.ts";
import {
  type ClusterFacts,
  type DeployRow,
  type GroupRef,
  listGroups,
  liveInstance,
  readCluster,
  readDeploy,
  readGroupDesire,
} from "./facts.ts";
import { groupFacts, groupHash, instancesOf, preBlock, resourcesOf } from "./group.ts";
import { placeGroup } from "./placement/place.ts";
import { type Blocked, DEFAULT_SETTINGS, type PlacementRequest, type Settings } from "./placement/types.ts";
import { quotaAllows, readInstanceQuotas } from "./quota.ts";
import { reconcileGroup } from "./reconcile/rollout.ts";
import type { Block, Decision, DeployStatusChange } from "./reconcile/rollout-types.ts";

/** At most this many nodes' rejections are kept as a block's facts (why prints them). */
const MAX_BLOCK_FACT_NODES = 50;

export interface PassResult {
  groups: number;
  allocated: number;
  drained: number;
  stopped: number;
  errors: number;
  /** Where this pass's writes landed: the next pass waits for the views to pass it. */
  position: Position | null;
}

export interface PassDeps {
  pool: Pool;
  now: () => Date;
  /** Placement settings (default: the spec's). */
  settings?: Settings;
  log?: { warn(obj: object, msg?: string): void };
}

/** A group's outcome, for its deploy's verdict. */
interface GroupVerdict {
  deploy_id: string;
  process_type: string;
  status?: DeployStatusChange;
}

export async function runPass(deps: PassDeps): Promise<PassResult> {
  const now = deps.now();
  const requestId = newId("req");
  const out = new Positions();
  const result: PassResult = { groups: 0, allocated: 0, drained: 0, stopped: 0, errors: 0, position: null };

  const settings = deps.settings ?? DEFAULT_SETTINGS;
  const cluster = await readCluster(deps.pool, now);
  await markSilentNodesOffline(deps.pool, cluster, settings, now, requestId, out);

  const verdicts: GroupVerdict[] = [];
  for (const g of await listGroups(deps.pool)) {
    result.groups++;
    try {
      const r = await reconcileOne(deps.pool, cluster, settings, g, now, requestId, out);
      result.allocated += r.allocated;
      result.drained += r.drained;
      result.stopped += r.stopped;
      if (r.verdict) verdicts.push(r.verdict);
    } catch (err) {
      result.errors++;
      deps.log?.warn({ err, env_id: g.env_id, process_type: g.process_type }, "scheduler: group pass failed");
      await withTransaction(deps.pool, (c) =>
        writeStatus(c, g, now, null, err instanceof Error ? err.message : String(err)),
      ).catch(() => {});
    }
  }
  await settleDeploys(deps.pool, verdicts, now, requestId, out);
  // Addresses of instances stopped by anyone (an operator's forced stop too) go back to the pool.
  await deps.pool.query(
    `UPDATE instance_addresses a SET released_at = $1 FROM instances i
      WHERE a.instance_id = i.instance_id AND a.released_at IS NULL AND i.desired_state = 'stopped'`,
    [now],
  );
  result.position = out.last;
  return result;
}

/** §6.3: no heartbeat for 45 s makes an active (or degraded) node offline. */
async function markSilentNodesOffline(
  pool: Pool,
  cluster: ClusterFacts,
  settings: Settings,
  now: Date,
  requestId: string,
  out: Positions,
): Promise<void> {
  for (const n of cluster.nodes) {
    if (n.state !== "active" && n.state !== "degraded") continue;
    if (n.last_heartbeat_at === null) continue;
    const silentFor = now.getTime() - n.last_heartbeat_at;
    if (silentFor < settings.heartbeat_timeout_ms) continue;
    const r = await handleCommand(pool, {
      aggregate: nodeAggregate,
      aggregateId: n.node_id,
      meta: SCHEDULER_META(requestId),
      decide: (s) => ({ events: decideOffline(s, n.node_id, silentFor, now), response: null }),
    });
    out.add(r.position);
    if (r.position) {
      n.state = "offline";
      cluster.nodeState.set(n.node_id, "offline");
    }
  }
}

async function reconcileOne(
  pool: Pool,
  cluster: ClusterFacts,
  settings: Settings,
  g: GroupRef,
  now: Date,
  requestId: string,
  out: Positions,
): Promise<{ allocated: number; drained: number; stopped: number; verdict: GroupVerdict | null }> {
  const desire = await readGroupDesire(pool, g);
  const deploy = desire.deploy_id ? await readDeploy(pool, desire.deploy_id) : null;
  const failures = deploy ? await failuresOf(pool, g, deploy.deploy_id) : [];
  const lastRecordedBlock = await recordedBlock(pool, g);
  const resources = resourcesOf(desire, g.process_type);
  const hash = groupHash(desire, g.process_type);
  const request: PlacementRequest | null =
    resources && desire.release
      ? {
          group: { env_id: g.env_id, process_type: g.process_type },
          count: 0,
          memory_limit_bytes: resources.memory_limit_bytes,
          cpu_request: resources.cpu_request,
          archs: [...new Set(desire.release.resolved_digests.map((d) => d.arch))],
          volumes: desire.mounts.map((m) => ({
            volume_id: m.volume_id,
            home_node_id: m.home_node_id,
            home_node_state: cluster.nodeState.get(m.home_node_id),
          })),
        }
      : null;
  const live = () => cluster.instances.map((i) => liveInstance(i, volumesOf(desire, i, g)));
  const place = (count: number) =>
    request
      ? placeGroup(cluster.nodes, live(), { ...request, count }, cluster.ipam, settings, now.getTime())
      : null;

  const early = preBlock(desire, g.process_type);
  const base = { g, desire, cluster, deploy, failures, lastRecordedBlock, now };
  // With one replica and no room for a second, the core drains first (§6.3).
  const hasOld = instancesOf(cluster, g).some((i) => i.spec_hash !== hash && i.desired_state === "running");
  const surgePossible = !(hasOld && request !== null && (place(1)?.placements.length ?? 0) === 0);
  let decision: Decision = reconcileGroup(groupFacts({ ...base, blockNow: early, surgePossible }));
  // Quotas are rechecked here (§6.4): the org gets what its limits leave.
  const quota =
    decision.allocate > 0 && resources
      ? quotaAllows(
          await readInstanceQuotas(pool, g.org_id),
          cluster.instances.filter((i) => i.org_id === g.org_id),
          decision.allocate,
          resources.memory_limit_bytes,
          resources.cpu_request,
        )
      : null;
  let placed = quota && quota.allowed > 0 ? place(quota.allowed) : null;
  const later: Block | null = quota?.limitedBy
    ? {
        reason: `org_quota_exceeded:${quota.limitedBy.dimension}`,
        detail: `${quota.limitedBy.dimension}: ${quota.limitedBy.usage} of ${quota.limitedBy.limit} in use, each instance needs ${quota.limitedBy.per_instance}`,
      }
    : placed?.blocked
      ? { reason: placed.blocked.reason, detail: placed.blocked.detail }
      : null;
  if (!early && later) {
    // Quota and placement blocks do not change what the core decides, only which block it records.
    decision = reconcileGroup(groupFacts({ ...base, blockNow: later, surgePossible }));
  }
  // The block as of now (the level; the log gets only its changes), with placement's facts when it is theirs.
  const blocked: (Block & { facts?: Blocked["facts"] }) | null =
    decision.blocked && placed?.blocked && decision.blocked.reason === placed.blocked.reason
      ? { ...decision.blocked, facts: capFacts(placed.blocked.facts) }
      : decision.blocked;
  if (decision.allocate === 0) placed = null;

  let allocated = 0;
  await withTransaction(pool, async (client) => {
    await lockGroup(client, g);
    const meta = SCHEDULER_META(requestId);
    for (const d of decision.drain) {
      // A deleted env's instances leave for that reason (§3.4), not as a scale-down.
      await drainInstance(client, meta, desire.env_live ? d : { ...d, reason: "env_deleted" }, out);
    }
    for (const id of decision.stop) await stopInstance(client, meta, id, now, out);
    if (placed && desire.release && resources && hash) {
      const release = desire.release;
      const made = await allocateInstances(
        client,
        meta,
        // Never more than the (final) decision asked for.
        placed.placements.slice(0, decision.allocate).map((p) => ({
          g,
          placement: p,
          release_id: release.release_id,
          deploy_id: desire.deploy_id,
          secrets_version_id: desire.secrets_version_id,
          resources,
          spec_hash: hash,
        })),
        now,
        out,
      );
      allocated = made.length;
      for (const { instance_id, n } of made) {
        cluster.instances.push({
          instance_id,
          org_id: g.org_id,
          app_id: g.app_id,
          env_id: g.env_id,
          process_type: g.process_type,
          node_id: n.placement.node_id,
          release_id: n.release_id,
          deploy_id: n.deploy_id,
          secrets_version_id: n.secrets_version_id,
          overlay_ipv6: n.placement.overlay_ipv6,
          memory_limit_bytes: resources.memory_limit_bytes,
          cpu_request: resources.cpu_request,
          spec_hash: hash,
          desired_state: "running",
          status: "allocated",
          reason_code: null,
          drain_grace_seconds: null,
          reported_at: null,
          created_at: now,
          updated_at: now,
        });
        (cluster.ipam.used as Set<string>).add(n.placement.overlay_ipv6);
      }
      cluster.ipam.next_hint = placed.next_hint;
    }
    await recordBlock(client, meta, g, blocked, out);
    await writeStatus(client, g, now, blocked, null);
  });
  // Keep the in-memory cluster in step with what was just written.
  const drained = new Set(decision.drain.map((d) => d.instance_id));
  const stopped = new Set(decision.stop);
  cluster.instances = cluster.instances.filter((i) => !stopped.has(i.instance_id));
  for (const i of cluster.instances) if (drained.has(i.instance_id)) i.desired_state = "draining";
  return {
    allocated,
    drained: drained.size,
    stopped: stopped.size,
    verdict: deploy
      ? {
          deploy_id: deploy.deploy_id,
          process_type: g.process_type,
          ...(decision.deploy_status ? { status: decision.deploy_status } : {}),
        }
      : null,
  };
}

/** The volumes an instance of this group holds (for volume exclusivity); other groups' are not known here. */
function volumesOf(
  desire: Awaited<ReturnType<typeof readGroupDesire>>,
  i: { env_id: string; process_type: string },
  g: GroupRef,
): string[] {
  return i.env_id === g.env_id && i.process_type === g.process_type
    ? desire.mounts.map((m) => m.volume_id)
    : [];
}

function capFacts(facts: Blocked["facts"]): Blocked["facts"] {
  return facts.nodes.length > MAX_BLOCK_FACT_NODES
    ? { ...facts, nodes: facts.nodes.slice(0, MAX_BLOCK_FACT_NODES) }
    : facts;
}

/** Serialises passes over one group (a second leader during a lease handover, say). */
async function lockGroup(client: PoolClient, g: GroupRef): Promise<void> {
  await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
    `scheduler:${g.env_id}:${g.process_type}`,
  ]);
}

async function failuresOf(db: Queryable, g: GroupRef, deployId: string) {
  const { rows } = await db.query<{ reported_at: Date | null; updated_at: Date; reason_code: string | null }>(
    `SELECT reported_at, updated_at, reason_code FROM instances
      WHERE env_id = $1 AND process_type = $2 AND deploy_id = $3 AND status = 'failed'`,
    [g.env_id, g.process_type, deployId],
  );
  return rows.map((r) => ({
    at_ms: (r.reported_at ?? r.updated_at).getTime(),
    reason_code: r.reason_code ?? "workload_exited",
  }));
}

/**
 * Each deploy's verdict from all its groups (§6.3): failed as soon as one
 * group fails; succeeded once every targeted group says so; rolling once any
 * acts. A queued or rolling deploy no desired release points to any more was
 * superseded by a newer one.
 */
async function settleDeploys(
  pool: Pool,
  verdicts: GroupVerdict[],
  now: Date,
  requestId: string,
  out: Positions,
): Promise<void> {
  const byDeploy = new Map<string, GroupVerdict[]>();
  for (const v of verdicts) byDeploy.set(v.deploy_id, [...(byDeploy.get(v.deploy_id) ?? []), v]);
  for (const [deployId, vs] of byDeploy) {
    const deploy = await readDeploy(pool, deployId);
    if (!deploy || deploy.status === "succeeded" || deploy.status === "failed") continue;
    const change = combine(deploy, vs, await targetedProcesses(pool, deploy));
    if (change) await setDeployStatus(pool, deployId, change, now, requestId, out);
  }
  // Superseded = a newer deploy exists in the env and took over every process type. Asking only
  // "no desired release points to it" would also catch a deploy whose env_desired_releases rows the
  // (separate) projection has not applied yet, and fail a brand-new deploy.
  const { rows: superseded } = await pool.query<{ deploy_id: string }>(
    `SELECT d.deploy_id FROM deploys d
      WHERE d.status IN ('queued', 'rolling')
        AND EXISTS (SELECT 1 FROM deploys n
                     WHERE n.env_id = d.env_id AND (n.created_at, n.deploy_id) > (d.created_at, d.deploy_id))
        AND NOT EXISTS (SELECT 1 FROM env_desired_releases r WHERE r.deploy_id = d.deploy_id)`,
  );
  for (const { deploy_id } of superseded) {
    await setDeployStatus(
      pool,
      deploy_id,
      { status: "failed", failed_reason: "superseded", message: "A newer deploy replaced it." },
      now,
      requestId,
      out,
    );
  }
}

async function targetedProcesses(db: Queryable, deploy: DeployRow): Promise<string[]> {
  const { rows } = await db.query<{ process_type: string }>(
    "SELECT process_type FROM env_desired_releases WHERE deploy_id = $1",
    [deploy.deploy_id],
  );
  return rows.map((r) => r.process_type);
}

export function combine(
  deploy: Pick<DeployRow, "status">,
  vs: readonly GroupVerdict[],
  targeted: readonly string[],
): DeployStatusChange | null {
  const failed = vs.find((v) => v.status?.status === "failed");
  if (failed?.status) return failed.status;
  const done = new Set(vs.filter((v) => v.status?.status === "succeeded").map((v) => v.process_type));
  if (targeted.length > 0 && targeted.every((p) => done.has(p))) {
    // The deploy aggregate goes queued → rolling → succeeded, never straight on.
    if (deploy.status === "queued") return { status: "rolling", message: "Rolling out." };
    return { status: "succeeded", message: "Every targeted process runs the release." };
  }
  if (deploy.status === "queued") {
    const rolling = vs.find((v) => v.status?.status === "rolling");
    return rolling?.status ?? { status: "rolling", message: "Rolling out." };
  }
  return null;
}

/** A group's verdict, or the pass's own `superseded`. */
type DeployChange = Omit<DeployStatusChange, "failed_reason"> & {
  failed_reason?: DeployStatusChange["failed_reason"] | "superseded";
};

async function setDeployStatus(
  pool: Pool,
  deployId: string,
  change: DeployChange,
  now: Date,
  requestId: string,
  out: Positions,
): Promise<void> {
  try {
    const r = await handleCommand(pool, {
      aggregate: deployAggregate,
      aggregateId: deployId,
      meta: SCHEDULER_META(requestId),
      decide: (state) => ({
        events: decideDeployStatus(
          state,
          deployId,
          {
            status: change.status,
            message: change.message,
            ...(change.failed_reason ? { failed_reason: change.failed_reason } : {}),
          },
          now,
        ),
        response: null,
      }),
    });
    out.add(r.position);
  } catch (err) {
    // Another writer (an operator's fail) got there first: the deploy is settled either way.
    if (!(err instanceof KernelError && err.code === "conflict")) throw err;
  }
}
