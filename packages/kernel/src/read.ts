import type { Queryable } from "./db/pool.ts";
import { EVENT_COLUMNS, type EventRow, eventFromRow, type StoredEvent } from "./events.ts";
import { comparePositions, type Position } from "./position.ts";

/** Server-side filter for log readers; every given member must match. */
export interface EventFilter {
  aggregateTypes?: readonly string[];
  eventTypes?: readonly string[];
  orgId?: string;
  appId?: string;
  envId?: string;
}

export interface Batch {
  events: StoredEvent[];
  /**
   * Where the next read starts. Past the last event returned; and when the
   * batch was not full, at the horizon `(xmin, 0)`: every transaction below it
   * has been seen, so sparse filters never rescan.
   */
  next: Position;
  /** True when the batch was full: more may be readable right away. */
  full: boolean;
}

// The horizon and the rows come from one statement, hence one snapshot: every
// transaction below xmin has committed or aborted, so nothing below it can
// appear later, and nothing at or above it is read yet.
const BATCH_SQL = `
WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
SELECT h.xmin AS horizon, e.*
  FROM h LEFT JOIN LATERAL (
    SELECT ${EVENT_COLUMNS} FROM events
     WHERE (tx_id, event_id) > ($1::xid8, $2::bigint) AND tx_id < h.xmin
       AND ($4::text[] IS NULL OR aggregate_type = ANY($4))
       AND ($5::text[] IS NULL OR event_type = ANY($5))
       AND ($6::text IS NULL OR org_id = $6)
       AND ($7::text IS NULL OR app_id = $7)
       AND ($8::text IS NULL OR env_id = $8)
     ORDER BY tx_id, event_id
     LIMIT $3) e ON true`;

type BatchRow = { horizon: string } & ({ event_id: null } | EventRow);

/** Reads up to `limit` events after `after`, in global order, below the horizon. */
export async function readBatch(
  db: Queryable,
  after: Position,
  limit: number,
  filter: EventFilter = {},
): Promise<Batch> {
  const { rows } = await db.query<BatchRow>({
    name: "kernel_read_batch",
    text: BATCH_SQL,
    values: [
      after.txId.toString(),
      after.eventId.toString(),
      limit,
      filter.aggregateTypes ?? null,
      filter.eventTypes ?? null,
      filter.orgId ?? null,
      filter.appId ?? null,
      filter.envId ?? null,
    ],
  });
  const horizon = BigInt((rows[0] as BatchRow).horizon);
  const events = rows.filter((r): r is BatchRow & EventRow => r.event_id !== null).map(eventFromRow);
  const full = events.length >= limit;
  const last = events[events.length - 1];
  let next = last ? { txId: last.txId, eventId: last.eventId } : after;
  if (!full) {
    const atHorizon = { txId: horizon, eventId: 0n };
    if (comparePositions(atHorizon, next) > 0) next = atHorizon;
  }
  return { events, next, full };
}

/** The position a reader starting "at the head" should start after. */
export async function headPosition(db: Queryable): Promise<Position> {
  const { rows } = await db.query<{ xmin: string }>("SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin");
  return { txId: BigInt((rows[0] as { xmin: string }).xmin), eventId: 0n };
}

/** Every event of one aggregate, in sequence order. */
export async function readAggregate(
  db: Queryable,
  aggregateType: string,
  aggregateId: string,
): Promise<StoredEvent[]> {
  const { rows } = await db.query<EventRow>({
    name: "kernel_read_aggregate",
    text: `SELECT ${EVENT_COLUMNS} FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY aggregate_seq`,
    values: [aggregateType, aggregateId],
  });
  return rows.map(eventFromRow);
}
