import type { Queryable } from "../db/pool.ts";
import { encodeCursor, type Position } from "../position.ts";

/**
 * Lag counts stop here: an exact count of a long backlog would scan it all,
 * and "at least 10 000 behind" is all an operator needs to know.
 */
export const LAG_COUNT_CAP = 10_000;

/** One projection's progress, for operator tooling. */
export interface ProjectionStatus {
  name: string;
  /** The checkpoint as an opaque cursor. */
  position: string;
  updatedAt: Date;
  /** Committed events after the checkpoint, of every type, capped at {@link LAG_COUNT_CAP}. */
  lagEvents: number;
}

const LAG_SUBQUERY = (txCol: string, idCol: string) => `
  SELECT count(*)::int AS n, min(occurred_at) AS oldest FROM (
    SELECT occurred_at FROM events e WHERE (e.tx_id, e.event_id) > (${txCol}, ${idCol})
     ORDER BY e.tx_id, e.event_id LIMIT ${LAG_COUNT_CAP}) s`;

/** Every checkpoint row, ordered by name. */
export async function projectionStatus(db: Queryable): Promise<ProjectionStatus[]> {
  const { rows } = await db.query<{
    projection_name: string;
    last_tx_id: string;
    last_event_id: string;
    updated_at: Date;
    n: number;
  }>(
    `SELECT c.projection_name, c.last_tx_id, c.last_event_id, c.updated_at, lag.n
       FROM projection_checkpoints c
       CROSS JOIN LATERAL (${LAG_SUBQUERY("c.last_tx_id", "c.last_event_id")}) lag
      ORDER BY c.projection_name`,
  );
  return rows.map((r) => ({
    name: r.projection_name,
    position: encodeCursor({ txId: BigInt(r.last_tx_id), eventId: BigInt(r.last_event_id) }),
    updatedAt: r.updated_at,
    lagEvents: r.n,
  }));
}

/** Events after `position` (capped) and the `occurred_at` of the oldest (null when none). */
export async function lagAfter(
  db: Queryable,
  position: Position,
): Promise<{ events: number; oldest: Date | null }> {
  const { rows } = await db.query<{ n: number; oldest: Date | null }>({
    name: "kernel_projection_lag",
    text: LAG_SUBQUERY("$1::xid8", "$2::bigint"),
    values: [position.txId.toString(), position.eventId.toString()],
  });
  return { events: rows[0]?.n ?? 0, oldest: rows[0]?.oldest ?? null };
}
