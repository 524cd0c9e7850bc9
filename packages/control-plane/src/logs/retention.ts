// Workload logs are kept for 7 days (spec platform.md §7.7). Deleting them is
// singleton work: only the replica holding the kernel's leader lease runs it,
// hourly, like the kernel's idempotency clean-up. A replica that is not leader
// skips its turn; two deleting at once would only do the same work twice.
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
  isLeader: () => boolean;
  now: () => Date;
  logger: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** First run this long after start (a server restarted often still cleans), then every `intervalMs`. */
  firstDelayMs?: number;
  intervalMs?: number;
}

/**
 * Runs the clean-up on a timer while this process is leader. States: waiting
 * (timer armed) → cleaning (leader only) → waiting … → stopped. Returns the
 * stop function; the timer never keeps the process alive.
 */
export function startLogRetention(o: RetentionOptions): () => void {
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const tick = async () => {
    if (o.isLeader()) {
      try {
        const deleted = await deleteExpiredLogs(o.pool, o.now());
        if (deleted > 0) o.logger.info({ deleted }, "expired workload logs deleted");
      } catch (err) {
        o.logger.warn({ err }, "workload log clean-up failed; retrying at the next interval");
      }
    }
    arm(o.intervalMs ?? 60 * 60 * 1000);
  };
  const arm = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => void tick(), ms);
    timer.unref();
  };
  arm(o.firstDelayMs ?? 60_000);
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
