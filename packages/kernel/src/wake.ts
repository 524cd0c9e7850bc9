import pg from "pg";
import type { Queryable } from "./db/pool.ts";
import { EVENTS_CHANNEL } from "./notifier.ts";

// Per pool: is a wake-up in flight, and did another append land meanwhile?
const state = new WeakMap<object, { inFlight: boolean; again: boolean }>();

/**
 * Tells LISTENing readers (feed hub, projection runner) that events landed.
 *
 * Sent after commit as its own statement, never inside the append: a NOTIFY
 * in a writing transaction takes a global lock through that transaction's
 * commit flush, which serialises every appender and defeats group commit.
 * Coalesced per pool (at most one in flight, plus one more if appends landed
 * meanwhile) and not awaited: it is only a hint, and readers poll as a fallback.
 * Only pools are woken: a client inside the caller's own transaction must not
 * get a stray query, so such a caller calls this with its pool after COMMIT.
 */
export function wakeReaders(db: Queryable): void {
  if (!(db instanceof pg.Pool)) return;
  let s = state.get(db);
  if (!s) {
    s = { inFlight: false, again: false };
    state.set(db, s);
  }
  if (s.inFlight) {
    s.again = true;
    return;
  }
  s.inFlight = true;
  const cur = s;
  const send = (): void => {
    cur.again = false;
    const done = (): void => {
      if (cur.again) send();
      else cur.inFlight = false;
    };
    db.query("SELECT pg_notify($1, '')", [EVENTS_CHANNEL]).then(done, () => {
      cur.inFlight = false;
    });
  };
  send();
}
