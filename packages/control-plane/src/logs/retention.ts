// Workload logs are kept for 7 days (spec platform.md §7.7). Deleting them is
// singleton work: a leader task (context.ts leaderTasks), hourly, like the
// kernel's idempotency clean-up.
import { setTimeout as sleep } from "node:timers/promises";
import type { Pool } from "@plfm/kernel";

export const LOG_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
const BATCH_ROWS = 10_000;

// Batches keep each transaction short (no long lock, no huge WAL burst); the
// BRIN index on ts finds the old pages.
const DELETE_SQL = `
DELETE FROM workload_logs
 WHERE ctid = ANY (ARRAY(SELECT ctid FROM workload_logs WHERE ts < $1 LIMIT ${BATCH_ROWS}))`;

/** Deletes every line whose ts is older than the retention; returns how many. */
export async function deleteExpiredLogs(pool: Pool, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - LOG_RETENTION_MS);
  let total = 0;
  for (;;) {
    const r = await pool.query(DELETE_SQL, [cutoff]);
    const n = r.rowCount ?? 0;
    total += n;
    if (n < BATCH_ROWS) return total;
  }
}

export interface RetentionOptions {
  pool: Pool;
  now: () => Date;
  logger: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /** First run this long after winning the lease (a server restarted often still cleans), then every `intervalMs`. */
  firstDelayMs?: number;
  intervalMs?: number;
}

/** The clean-up as a leader task: runs until `signal` aborts (lease lost or server stopping). */
export async function runLogRetention(o: RetentionOptions, signal: AbortSignal): Promise<void> {
  const wait = (ms: number) =>
    sleep(ms, undefined, { signal }).then(
      () => true,
      () => false,
    );
  if (!(await wait(o.firstDelayMs ?? 60_000))) return;
  do {
    try {
      const deleted = await deleteExpiredLogs(o.pool, o.now());
      if (deleted > 0) o.logger.info({ deleted }, "expired workload logs deleted");
    } catch (err) {
      o.logger.warn({ err }, "workload log clean-up failed; retrying at the next interval");
    }
  } while (await wait(o.intervalMs ?? 60 * 60 * 1000));
}
