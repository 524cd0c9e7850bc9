// Reads of `workload_logs` (spec platform.md §4.3, §4.4, §7.7): one env's
// rows after a `(tx_id, id)` cursor below the snapshot horizon (the polling
// twin and the SSE stream), and the last lines of a time window.
import { comparePositions, type Position, type Queryable } from "@plfm/kernel";
import { formatTimestampNs, nsToDate } from "./entries.ts";

/** One line as the API returns it. */
export interface LogItem {
  ts: string;
  instance_id: string;
  process_type: string;
  stream: "stdout" | "stderr";
  line: string;
  truncated: boolean;
}

export interface LogFilter {
  processType?: string | undefined;
  instanceId?: string | undefined;
  /** Inclusive, nanoseconds. */
  sinceNs?: bigint | undefined;
  /** Exclusive, nanoseconds. */
  untilNs?: bigint | undefined;
}

export interface Scan {
  items: { item: LogItem; position: Position }[];
  /** Where the next scan starts: past every row looked at, and at the horizon when not full. */
  next: Position;
  /** More rows may be readable right away. */
  full: boolean;
  /** The filter passed over rows of the env (a sparse reader is owed a checkpoint). */
  skipped: boolean;
}

export interface ScanRow {
  horizon: string;
  id: string | null;
  tx_id: string;
  hit: boolean;
  ts_ns: string;
  instance_id: string;
  process_type: string;
  stream: "stdout" | "stderr";
  line: string | null;
  truncated: boolean;
}

// Horizon and rows from one statement, hence one snapshot: every transaction
// below xmin has ended, so no row below it can appear later (as events, see
// kernel read.ts). The env's rows are all scanned, not only matching ones, so
// the work per call is bounded however sparse the filter; a non-matching row's
// line is never read out (CASE), only its position.
const SCAN_SQL = `
WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
SELECT h.xmin::text AS horizon, l.id::text AS id, l.tx_id::text AS tx_id, l.hit, l.ts_ns::text AS ts_ns,
       l.instance_id, l.process_type, l.stream, CASE WHEN l.hit THEN l.line END AS line, l.truncated
  FROM h LEFT JOIN LATERAL (
    SELECT id, tx_id, ts_ns, instance_id, process_type, stream, line, truncated,
           ($5::text IS NULL OR process_type = $5) AND ($6::text IS NULL OR instance_id = $6)
             AND ($7::bigint IS NULL OR ts_ns >= $7) AND ($8::bigint IS NULL OR ts_ns < $8) AS hit
      FROM workload_logs
     WHERE env_id = $1 AND (tx_id, id) > ($2::xid8, $3::bigint) AND tx_id < h.xmin
     ORDER BY tx_id, id
     LIMIT $4) l ON true`;

/**
 * Scans up to `scanLimit` of the env's rows after `after`, returning at most
 * `maxItems` matching ones.
 */
export async function scanAfter(
  db: Queryable,
  envId: string,
  after: Position,
  options: { scanLimit: number; maxItems: number; filter: LogFilter },
): Promise<Scan> {
  const f = options.filter;
  const { rows } = await db.query<ScanRow>({
    name: "logs_scan_after",
    text: SCAN_SQL,
    values: [
      envId,
      after.txId.toString(),
      after.eventId.toString(),
      options.scanLimit,
      f.processType ?? null,
      f.instanceId ?? null,
      f.sinceNs?.toString() ?? null,
      f.untilNs?.toString() ?? null,
    ],
  });
  return scanFromRows(rows, after, options.scanLimit, options.maxItems);
}

/**
 * The pure half of {@link scanAfter}: consumes rows in order until `maxItems`
 * matches; the cursor moves past every consumed row, matching or not, and to
 * the horizon `(xmin, 0)` when the scan reached it.
 */
export function scanFromRows(
  rows: readonly ScanRow[],
  after: Position,
  scanLimit: number,
  maxItems: number,
): Scan {
  const items: Scan["items"] = [];
  let next = after;
  let skipped = false;
  let stoppedEarly = false;
  let scanned = 0;
  for (const r of rows) {
    if (r.id === null) continue;
    scanned++;
    const position = { txId: BigInt(r.tx_id), eventId: BigInt(r.id) };
    if (r.hit) {
      if (items.length >= maxItems) {
        stoppedEarly = true;
        break;
      }
      items.push({ item: toItem(r), position });
    } else {
      skipped = true;
    }
    next = position;
  }
  const full = stoppedEarly || scanned >= scanLimit;
  const horizon = rows[0]?.horizon;
  if (!full && horizon !== undefined) {
    const atHorizon = { txId: BigInt(horizon), eventId: 0n };
    if (comparePositions(atHorizon, next) > 0) next = atHorizon;
  }
  return { items, next, full, skipped };
}

function toItem(r: ScanRow): LogItem {
  return {
    ts: formatTimestampNs(BigInt(r.ts_ns)),
    instance_id: r.instance_id,
    process_type: r.process_type,
    stream: r.stream,
    line: r.line ?? "",
    truncated: r.truncated,
  };
}

// The newest `n` lines of the window through (env_id, ts), newest first; ts
// bounds are widened to whole milliseconds for the index, ts_ns is exact. The
// horizon comes from the same snapshot: rows at or above it may or may not be
// in this answer, so a client following with `after` may see a few twice
// (at-least-once, as every stream) but never misses one.
const TAIL_SQL = `
WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
SELECT h.xmin::text AS horizon, l.ts_ns::text AS ts_ns, l.instance_id, l.process_type, l.stream, l.line,
       l.truncated, l.id::text AS id
  FROM h LEFT JOIN LATERAL (
    SELECT id, ts_ns, instance_id, process_type, stream, line, truncated
      FROM workload_logs
     WHERE env_id = $1 AND ts >= $2 AND ts <= $3 AND ts_ns >= $4 AND ts_ns < $5
       AND ($6::text IS NULL OR process_type = $6) AND ($7::text IS NULL OR instance_id = $7)
     ORDER BY ts DESC, ts_ns DESC, id DESC
     LIMIT $8) l ON true`;

/** The last `tailLines` matching lines of [sinceNs, untilNs), oldest first, and the horizon to follow from. */
export async function readTail(
  db: Queryable,
  envId: string,
  window: { sinceNs: bigint; untilNs: bigint },
  filter: LogFilter,
  tailLines: number,
): Promise<{ items: LogItem[]; horizon: Position }> {
  const { rows } = await db.query<Omit<ScanRow, "hit" | "tx_id">>({
    name: "logs_tail",
    text: TAIL_SQL,
    values: [
      envId,
      nsToDate(window.sinceNs),
      new Date(nsToDate(window.untilNs).getTime() + 1),
      window.sinceNs.toString(),
      window.untilNs.toString(),
      filter.processType ?? null,
      filter.instanceId ?? null,
      tailLines,
    ],
  });
  const horizon = { txId: BigInt(rows[0]?.horizon ?? "0"), eventId: 0n };
  const items = rows
    .filter((r) => r.id !== null)
    .map((r) => toItem({ ...r, hit: true, tx_id: "0" }))
    .reverse();
  return { items, horizon };
}
