// projection_catchup_events_per_s: replay a large log into a simple view.
import { catchUp, type Pool, type Projection } from "@plfm/kernel";

/** A per-aggregate counter, one upsert statement per batch. */
export function counterProjection(name: string, table: string): Projection {
  return {
    name,
    tables: [table],
    async apply(client, events) {
      // Collapse the batch per aggregate first: apply is idempotent because it
      // stores the last seq seen, and counts only events past it.
      const last = new Map<string, { seq: number; first: number; n: number }>();
      for (const e of events) {
        const cur = last.get(e.aggregateId);
        if (cur) {
          cur.seq = e.aggregateSeq;
          cur.n++;
        } else last.set(e.aggregateId, { seq: e.aggregateSeq, first: e.aggregateSeq, n: 1 });
      }
      const ids = [...last.keys()];
      const rows = [...last.values()];
      await client.query(
        `INSERT INTO ${table} (aggregate_id, events, last_seq)
         SELECT id, n, seq FROM unnest($1::text[], $2::int[], $3::int[]) AS t(id, n, seq)
         ON CONFLICT (aggregate_id) DO UPDATE
           SET events = ${table}.events + (EXCLUDED.last_seq - ${table}.last_seq), last_seq = EXCLUDED.last_seq
           WHERE ${table}.last_seq < EXCLUDED.last_seq`,
        [ids, rows.map((r) => r.n), rows.map((r) => r.seq)],
      );
    },
  };
}

export async function createCounterTable(pool: Pool, table: string): Promise<void> {
  await pool.query(
    `CREATE TABLE IF NOT EXISTS ${table} (aggregate_id text PRIMARY KEY, events int NOT NULL, last_seq int NOT NULL)`,
  );
}

/** Loads `total` events in 10,000-event transactions, then times a full replay. */
export async function benchProjectionCatchUp(pool: Pool, total: number): Promise<number> {
  const perTx = 10_000;
  for (let done = 0; done < total; done += perTx) {
    await pool.query(
      `INSERT INTO events (aggregate_type, aggregate_id, aggregate_seq, event_type, actor_type, actor_id,
                           request_id, org_id, payload)
       SELECT 'load', 'load_' || (g % 2000), $1 + g / 2000, 'load.happened', 'system', 'bench', 'req_bench',
              'org_bench', jsonb_build_object('n', g)
         FROM generate_series(0, $2 - 1) AS g`,
      [done / 2000 + 1, perTx],
    );
  }
  // A rebuild replays a log written long ago, which autovacuum has long since
  // visited (hint bits, statistics); without this the first reader pays for
  // setting hint bits on 200,000 fresh rows, and an autovacuum starting
  // mid-replay makes the figure swing by a factor of four.
  await pool.query("VACUUM ANALYZE events");
  await createCounterTable(pool, "bench_catchup_view");
  const projection = counterProjection("bench_catchup", "bench_catchup_view");
  const t0 = performance.now();
  const applied = await catchUp(pool, projection, { batchSize: 1000 });
  const seconds = (performance.now() - t0) / 1000;
  const { rows } = await pool.query<{ n: string }>("SELECT sum(events) AS n FROM bench_catchup_view");
  if (Number(rows[0]?.n) < total) throw new Error(`catch-up applied ${rows[0]?.n} of ${total} load events`);
  return applied / seconds;
}
