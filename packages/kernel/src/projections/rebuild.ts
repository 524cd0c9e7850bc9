import { type Pool, withTransaction } from "../db/pool.ts";
import { CHECKPOINTS_CHANNEL, EVENTS_CHANNEL } from "../notifier.ts";
import { START } from "../position.ts";
import { lockCheckpoint, type Projection, quoteTable, setCheckpoint } from "./projection.ts";

/**
 * Truncates a projection's tables and resets its checkpoint to START, in one
 * transaction that holds the checkpoint row lock, so a running batch either
 * finishes before it or starts after it. A running {@link ProjectionRunner}
 * then replays the log (it is woken by the events notification sent here);
 * without one, call {@link catchUp}. Views come only from the log, so the
 * replayed view equals the live one.
 *
 * Waiters in other processes learn of the reset from the checkpoint
 * notification; until it arrives they may still see the old position.
 */
export async function rebuildProjection(pool: Pool, projection: Projection): Promise<void> {
  await withTransaction(pool, async (client) => {
    await lockCheckpoint(client, projection.name);
    if (projection.tables.length > 0) {
      // RESTART IDENTITY: a view that numbers rows anyway starts afresh, as a new install would.
      await client.query(`TRUNCATE ${projection.tables.map(quoteTable).join(", ")} RESTART IDENTITY`);
    }
    await setCheckpoint(client, projection.name, START, CHECKPOINTS_CHANNEL);
    // Wake runners now rather than at their next poll; a spurious wake-up is harmless to every listener.
    await client.query("SELECT pg_notify($1, '')", [EVENTS_CHANNEL]);
  });
}
