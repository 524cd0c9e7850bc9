import { EventEmitter } from "node:events";
import pg from "pg";
import { EVENTS_CHANNEL, WAKE_PAYLOAD } from "./channels.ts";
import type { Queryable } from "./db/pool.ts";

// In-process signals, keyed by database URL and channel: an appender and a
// reader in the same process (the usual server) need no round trip through
// Postgres to wake each other.
const local = new EventEmitter();
local.setMaxListeners(0);
const localKey = (url: string, channel: string) => `${channel}\u0000${url}`;

/** Listens for in-process signals on `channel` of the database at `url`. */
export function onLocalSignal(url: string, channel: string, fn: (payload: string) => void): () => void {
  const key = localKey(url, channel);
  local.on(key, fn);
  return () => local.off(key, fn);
}

/** Signals in-process listeners of the pool's database (no-op for anything but a pool). */
export function signalLocal(db: Queryable, channel: string, payload: string): void {
  const url = db instanceof pg.Pool ? db.options.connectionString : undefined;
  if (url) local.emit(localKey(url, channel), payload);
}

// Per pool: is a wake-up in flight or cooling down, and did another append
// land meanwhile?
const state = new WeakMap<object, { busy: boolean; again: boolean }>();

/** Minimum spacing of cross-process wake-ups from one pool. */
export const WAKE_COOLDOWN_MS = 5;

// Its own short transaction, committed without waiting for the WAL flush: a
// NOTIFY holds a cluster-wide lock through its commit, and it is only a hint.
const NOTIFY_SQL = `BEGIN; SET LOCAL synchronous_commit = off; SELECT pg_notify('${EVENTS_CHANNEL}', '${WAKE_PAYLOAD}'); COMMIT`;

/**
 * Tells readers (feed hubs, projection runners) that events landed: at once
 * in this process, and through NOTIFY in others.
 *
 * Sent after commit, never inside the append: a NOTIFY in a writing
 * transaction holds that lock through the commit's flush, which serialises
 * every appender and defeats group commit. Coalesced per pool: one NOTIFY at
 * a time, at most one per {@link WAKE_COOLDOWN_MS}, a trailing one for
 * appends that landed meanwhile; each NOTIFY is a transaction, and one per
 * append cost a fifth of append throughput. Not awaited: readers also poll.
 * Only pools are woken: a client inside the caller's own transaction must not
 * get a stray query, so such a caller calls this with its pool after COMMIT.
 */
export function wakeReaders(db: Queryable, eventTypes: readonly string[] = []): void {
  if (!(db instanceof pg.Pool)) return;
  // In-process readers learn which event types landed (none named: all may have).
  signalLocal(db, EVENTS_CHANNEL, [...new Set(eventTypes)].join(","));
  let s = state.get(db);
  if (!s) {
    s = { busy: false, again: false };
    state.set(db, s);
  }
  if (s.busy) {
    s.again = true;
    return;
  }
  s.busy = true;
  const cur = s;
  const send = (): void => {
    cur.again = false;
    const cooled = (): void => {
      if (cur.again) send();
      else cur.busy = false;
    };
    const after = () => setTimeout(cooled, WAKE_COOLDOWN_MS).unref();
    db.query(NOTIFY_SQL).then(after, after);
  };
  send();
}
