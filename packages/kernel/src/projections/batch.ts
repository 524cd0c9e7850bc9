import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import type { Pool } from "../db/pool.ts";
import { CHECKPOINTS_CHANNEL } from "../notifier.ts";
import { comparePositions, type Position } from "../position.ts";
import { type EventFilter, readBatch } from "../read.ts";
import { signalLocal } from "../wake.ts";
import {
  advanceCheckpointSql,
  type CheckpointRow,
  checkpointFromRow,
  checkpointPayload,
  LOCK_CHECKPOINT_SQL,
  lockCheckpoint,
  type Projection,
} from "./projection.ts";

/** What one batch transaction did. */
export interface BatchOutcome {
  /** Events handed to `apply` (after the server-side filter). */
  applied: number;
  /** The batch was full. */
  full: boolean;
  /** More is readable right away: the batch was full, or events committed meanwhile below the new horizon. */
  more: boolean;
  from: Position;
  to: Position;
  /**
   * Committed events wait above a transaction that is still open (an append,
   * another runner's batch, any writer on the server): they become readable
   * when it ends, which nothing announces.
   */
  heldBack: boolean;
}

// Sent right after COMMIT, so our own transaction no longer holds the horizon
// back: is anything at or past where we stopped readable now (below the fresh
// horizon), or committed but still behind an open transaction (at or past it)?
// Written as ORDER BY … LIMIT 1 probes because those can only be served well by
// an index scan on events_order_idx; a bare EXISTS with range conditions lets
// a planner with stale statistics pick a sequential scan of the whole log.
const probeSql = (p: Position) => `
WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
SELECT coalesce((SELECT tx_id FROM events WHERE tx_id >= '${p.txId}'::xid8 ORDER BY tx_id LIMIT 1) < h.xmin, false)
         AS readable,
       (SELECT tx_id FROM events WHERE tx_id >= greatest('${p.txId}'::xid8, h.xmin) ORDER BY tx_id LIMIT 1) IS NOT NULL
         AS held
  FROM h`;

type Results = pg.QueryResult | pg.QueryResult[];
const lastResult = (r: Results): pg.QueryResult | undefined => (Array.isArray(r) ? r[r.length - 1] : r);

/**
 * One batch in ONE transaction: lock the checkpoint row, read after it,
 * apply, advance the checkpoint (to the horizon when nothing matched), and
 * notify CHECKPOINTS_CHANNEL (delivered at commit). Throws what `apply` throws;
 * the transaction is then rolled back and the checkpoint unchanged.
 *
 * Three round trips plus `apply`'s: every projection runs one of these per
 * burst of commits, so statements are sent together where the protocol allows
 * (BEGIN with the lock; the checkpoint update with COMMIT and the probe for more).
 *
 * The commit does not wait for its WAL flush (synchronous_commit = off): it is
 * visible at once, and a crash can only lose the last few batches, view and
 * checkpoint together, which the next run replays from the log.
 */
export async function runBatch(pool: Pool, projection: Projection, batchSize: number): Promise<BatchOutcome> {
  const filter: EventFilter = projection.eventTypes ? { eventTypes: projection.eventTypes } : {};
  const name = projection.name;
  const client = await pool.connect();
  let broken = false;
  try {
    const begun = lastResult(
      await client.query<CheckpointRow>(
        `BEGIN; SET LOCAL synchronous_commit = off; ${LOCK_CHECKPOINT_SQL} ${pg.escapeLiteral(name)} FOR UPDATE`,
      ),
    );
    const row = begun?.rows[0] as CheckpointRow | undefined;
    const from = row ? checkpointFromRow(row) : await lockCheckpoint(client, name);
    const batch = await readBatch(client, from, batchSize, filter);
    if (batch.events.length > 0) await projection.apply(client, batch.events);
    const to = batch.next;
    const tail: string[] = [];
    if (comparePositions(to, from) > 0) tail.push(advanceCheckpointSql(name, to, CHECKPOINTS_CHANNEL));
    tail.push("COMMIT");
    if (!batch.full) tail.push(probeSql(to));
    // Should the probe itself fail, the batch is committed but reported as an
    // error: harmless, the next batch starts from the committed checkpoint.
    const probe = lastResult(await client.query(tail.join(";\n")))?.rows[0];
    // Waiters in this process hear of it at once; others through the NOTIFY.
    if (comparePositions(to, from) > 0) signalLocal(pool, CHECKPOINTS_CHANNEL, checkpointPayload(name, to));
    return {
      applied: batch.events.length,
      full: batch.full,
      more: batch.full || probe?.readable === true,
      from,
      to,
      heldBack: !batch.full && probe?.held === true,
    };
  } catch (err) {
    try {
      await client.query("ROLLBACK");
    } catch {
      broken = true;
    }
    throw err;
  } finally {
    client.release(broken);
  }
}

export interface CatchUpOptions {
  batchSize?: number;
  /**
   * How long to keep retrying while an open transaction holds the horizon
   * back with committed events above it (default 10 s); then it returns.
   */
  settleMs?: number;
}

/**
 * Runs batches until the projection has read everything committed before the
 * call (nothing more readable, nothing held back). For tests, benchmarks
 * and one-off tools; servers use {@link ProjectionRunner}. Returns the number
 * of events applied.
 */
export async function catchUp(
  pool: Pool,
  projection: Projection,
  options: CatchUpOptions = {},
): Promise<number> {
  const batchSize = options.batchSize ?? 500;
  const deadline = Date.now() + (options.settleMs ?? 10_000);
  let applied = 0;
  let delay = 1;
  for (;;) {
    const r = await runBatch(pool, projection, batchSize);
    applied += r.applied;
    if (r.more) continue;
    if (!r.heldBack || Date.now() >= deadline) return applied;
    await sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
}
