import { decodeCursor, lagAfter, projectionStatus, type Queryable } from "@plfm/kernel";

/** One thing an operator should look at, with the command that repairs it. */
export interface StuckItem {
  kind: "deploy_past_timeout" | "instance_stuck" | "projection_lagging" | "node_silent";
  ids: string[];
  since: string;
  fix_command: string;
}

export interface StuckLimits {
  /** A projection this many events behind is lagging whatever its age. */
  lagEvents: number;
  /** A checkpoint that has not moved for this long while events wait is lagging. */
  staleMs: number;
  /** A node without a heartbeat for this long is silent (spec §6.3: offline after 45 s). */
  silentMs: number;
  /** Deploy timeout per targeted process type (spec §6.1: 10 min). */
  deployTimeoutMsPerProcess: number;
  /**
   * How long an instance may sit in one phase before someone should look.
   * `preparing` includes the image pull (30 min at most, §7.6); `booting`
   * is the startup timeout (120 s, §6.1); `allocated` means no agent picked
   * it up. Draining is judged by its own grace instead (see drainLimitMs).
   */
  phaseMs: { allocated: number; preparing: number; booting: number };
  /** Past the drain grace and the termination grace, what a stateful drain waits before forcing (§6.3). */
  drainSlackMs: number;
}

export const STUCK_LIMITS: StuckLimits = {
  lagEvents: 1000,
  staleMs: 60_000,
  silentMs: 45_000,
  deployTimeoutMsPerProcess: 10 * 60_000,
  phaseMs: { allocated: 120_000, preparing: 30 * 60_000, booting: 120_000 },
  drainSlackMs: 40_000,
};

/**
 * Everything stuck right now. Read-only: the fix commands append corrective
 * events (or rebuild a view from the log); history is never edited.
 */
export async function findStuck(db: Queryable, now: Date, limits = STUCK_LIMITS): Promise<StuckItem[]> {
  return [
    ...(await deploysPastTimeout(db, now, limits)),
    ...(await stuckInstances(db, now, limits)),
    ...(await laggingProjections(db, now, limits)),
    ...(await silentNodes(db, now, limits)),
  ];
}

/**
 * Deploys still queued or rolling after their timeout (10 min per targeted
 * process type; a deploy of "all" counts the process types it set). The
 * scheduler fails them itself; one listed here means it is not doing so.
 */
export async function deploysPastTimeout(
  db: Queryable,
  now: Date,
  limits: StuckLimits,
): Promise<StuckItem[]> {
  const { rows } = await db.query<{ deploy_id: string; created_at: Date }>(
    `SELECT d.deploy_id, d.created_at FROM deploys d
      WHERE d.status IN ('queued', 'rolling')
        AND d.created_at + make_interval(secs => $2::double precision / 1000 * greatest(1,
              jsonb_array_length(d.process_types),
              (SELECT count(*) FROM env_desired_releases r WHERE r.deploy_id = d.deploy_id))) < $1
      ORDER BY d.created_at, d.deploy_id`,
    [now, limits.deployTimeoutMsPerProcess],
  );
  return rows.map((r) => ({
    kind: "deploy_past_timeout",
    ids: [r.deploy_id],
    since: r.created_at.toISOString(),
    fix_command: `plfm admin deploys fail ${r.deploy_id}`,
  }));
}

/**
 * Instances that sit in one phase too long: not started (allocated,
 * preparing, booting past their limits; the fix drains them so the
 * scheduler replaces them) or not stopping (draining past grace + slack;
 * the fix records them stopped, as the scheduler's forced stop would).
 */
export async function stuckInstances(db: Queryable, now: Date, limits: StuckLimits): Promise<StuckItem[]> {
  const { rows } = await db.query<{
    instance_id: string;
    org_id: string;
    app_id: string;
    env_id: string;
    status: string;
    desired_state: string;
    drain_grace_seconds: number | null;
    updated_at: Date;
  }>(
    `SELECT instance_id, org_id, app_id, env_id, status, desired_state, drain_grace_seconds, updated_at
       FROM instances
      WHERE status NOT IN ('stopped', 'failed') AND desired_state <> 'stopped'
        AND updated_at < $1
      ORDER BY updated_at, instance_id`,
    // Nothing younger than the shortest limit can be stuck: the rest is decided below.
    [
      new Date(
        now.getTime() - Math.min(limits.phaseMs.allocated, limits.phaseMs.booting, limits.drainSlackMs),
      ),
    ],
  );
  const found: StuckItem[] = [];
  for (const r of rows) {
    const age = now.getTime() - r.updated_at.getTime();
    const since = r.updated_at.toISOString();
    if (r.desired_state === "draining" || r.status === "draining") {
      if (age > drainLimitMs(r.drain_grace_seconds, limits)) {
        found.push({
          kind: "instance_stuck",
          ids: [r.instance_id],
          since,
          fix_command: `plfm admin instances stop ${r.instance_id}`,
        });
      }
      continue;
    }
    const limit = limits.phaseMs[r.status as keyof StuckLimits["phaseMs"]];
    if (limit !== undefined && age > limit) {
      found.push({
        kind: "instance_stuck",
        ids: [r.instance_id],
        since,
        fix_command: `plfm instances restart ${r.instance_id} --org ${r.org_id} --app ${r.app_id} --env ${r.env_id}`,
      });
    }
  }
  return found;
}

/** Drain grace (10 s unless set) + termination grace (10 s) + the forced-stop slack. */
export function drainLimitMs(drainGraceSeconds: number | null, limits: StuckLimits): number {
  return ((drainGraceSeconds ?? 10) + 10) * 1000 + limits.drainSlackMs;
}

/** Far behind, or not moving while events wait (a dead leader, a poisoned event). */
export async function laggingProjections(
  db: Queryable,
  now: Date,
  limits: StuckLimits,
): Promise<StuckItem[]> {
  const found: StuckItem[] = [];
  for (const s of await projectionStatus(db)) {
    if (s.lagEvents === 0) continue;
    const stale = now.getTime() - s.updatedAt.getTime() > limits.staleMs;
    if (s.lagEvents <= limits.lagEvents && !stale) continue;
    // "Since" is when the oldest waiting event arrived: how long readers have been served old views.
    const { oldest } = await lagAfter(db, decodeCursor(s.position));
    const since = oldest && oldest > s.updatedAt ? oldest : s.updatedAt;
    found.push({
      kind: "projection_lagging",
      ids: [s.name],
      since: since.toISOString(),
      fix_command: `plfm admin projections rebuild ${s.name}`,
    });
  }
  return found;
}

/** Nodes whose last heartbeat is too old; a disabled (or revoked) node is silent on purpose. */
export async function silentNodes(db: Queryable, now: Date, limits: StuckLimits): Promise<StuckItem[]> {
  const { rows } = await db.query<{ node_id: string; last_heartbeat_at: Date }>(
    `SELECT h.node_id, h.last_heartbeat_at FROM node_heartbeats h
      WHERE h.last_heartbeat_at < $1
        AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.node_id = h.node_id AND n.state = 'disabled')
      ORDER BY h.last_heartbeat_at, h.node_id`,
    [new Date(now.getTime() - limits.silentMs)],
  );
  return rows.map((r) => ({
    kind: "node_silent",
    ids: [r.node_id],
    since: r.last_heartbeat_at.toISOString(),
    fix_command: `plfm nodes drain ${r.node_id}`,
  }));
}
