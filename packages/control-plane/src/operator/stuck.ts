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
  /** A node without a heartbeat for this long is silent. */
  silentMs: number;
}

export const STUCK_LIMITS: StuckLimits = { lagEvents: 1000, staleMs: 60_000, silentMs: 45_000 };

/**
 * Everything stuck right now. Read-only: the fix commands append corrective
 * events (or rebuild a view from the log); history is never edited.
 *
 * TODO(scheduler): deploy_past_timeout and instance_stuck need the deploy
 * and instance views, which the scheduler slice brings; none are reported yet.
 */
export async function findStuck(db: Queryable, now: Date, limits = STUCK_LIMITS): Promise<StuckItem[]> {
  return [...(await laggingProjections(db, now, limits)), ...(await silentNodes(db, now, limits))];
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

/**
 * Nodes whose last heartbeat is too old. Heartbeats are not events (spec
 * §2): they live in `node_heartbeats` (or a `last_heartbeat_at` column of
 * `nodes`), which the fleet slice creates; without either, nothing is silent.
 */
export async function silentNodes(db: Queryable, now: Date, limits: StuckLimits): Promise<StuckItem[]> {
  const { rows: tables } = await db.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND column_name = 'last_heartbeat_at'
        AND table_name IN ('node_heartbeats', 'nodes')
      INTERSECT
     SELECT table_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND column_name = 'node_id'`,
  );
  const table = tables.some((t) => t.table_name === "node_heartbeats")
    ? "node_heartbeats"
    : tables.some((t) => t.table_name === "nodes")
      ? "nodes"
      : null;
  if (table === null) return [];
  const cutoff = new Date(now.getTime() - limits.silentMs);
  // A disabled (or revoked) node is silent on purpose.
  const { rows: hasState } = await db.query(
    `SELECT 1 FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = 'nodes' AND column_name = 'state'`,
  );
  const skipDisabled =
    table === "node_heartbeats" && hasState.length > 0
      ? "AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.node_id = h.node_id AND n.state = 'disabled')"
      : "";
  const { rows } = await db.query<{ node_id: string; last_heartbeat_at: Date }>(
    `SELECT h.node_id, h.last_heartbeat_at FROM ${table} h
      WHERE h.last_heartbeat_at < $1 ${skipDisabled} ORDER BY h.last_heartbeat_at, h.node_id`,
    [cutoff],
  );
  return rows.map((r) => ({
    kind: "node_silent",
    ids: [r.node_id],
    since: r.last_heartbeat_at.toISOString(),
    fix_command: `plfm nodes drain ${r.node_id}`,
  }));
}
