// Wake-ups for log readers (SSE streams): after a batch commits, readers in
// this process are signalled directly and other replicas through NOTIFY on
// `plfm_logs`. Only hints: streams also poll, so a lost one costs latency only.
import { randomBytes } from "node:crypto";
import { type Notifier, type Pool, signalLocal } from "@plfm/kernel";

export const LOGS_CHANNEL = "plfm_logs";
// Our own NOTIFY comes back through this process's LISTEN session; readers
// here were already signalled in-process, so they ignore that echo.
const OWN_PAYLOAD = `logs:${process.pid}:${randomBytes(6).toString("hex")}`;
const LOCAL_PAYLOAD = "local";
// Its own transaction, committed without waiting for the WAL flush (as the
// kernel's event wake-ups): a NOTIFY holds a cluster-wide lock through commit.
const NOTIFY_SQL = `BEGIN; SET LOCAL synchronous_commit = off; SELECT pg_notify('${LOGS_CHANNEL}', '${OWN_PAYLOAD}'); COMMIT`;

// Per pool: a NOTIFY in flight, and whether another batch landed meanwhile.
// One at a time plus one trailing: each NOTIFY is a transaction, and a busy
// fleet posts many batches a second.
const inFlight = new WeakMap<Pool, { again: boolean }>();

/** Wakes log readers; call after the batch's transaction committed. Not awaited. */
export function wakeLogReaders(pool: Pool): void {
  signalLocal(pool, LOGS_CHANNEL, LOCAL_PAYLOAD);
  const busy = inFlight.get(pool);
  if (busy) {
    busy.again = true;
    return;
  }
  const state = { again: false };
  inFlight.set(pool, state);
  const send = (): void => {
    state.again = false;
    const done = () => {
      if (state.again) send();
      else inFlight.delete(pool);
    };
    pool.query(NOTIFY_SQL).then(done, done);
  };
  send();
}

/** Calls `fn` on every wake-up from another process or this one (not on our NOTIFY's echo). */
export function onLogsWake(notifier: Notifier, fn: () => void): Promise<() => void> {
  return notifier.subscribe(LOGS_CHANNEL, (payload) => {
    if (payload !== OWN_PAYLOAD) fn();
  });
}
