// raw_insert_per_s vs append_per_s vs batch_append_events_per_s, interleaved in
// rounds on one database and one pool size so that machine drift hits all alike.
import { append, type NewEvent, newId, type Pool, requestHash } from "@plfm/kernel";
import { throughput } from "../lib.ts";

const meta = { actorType: "system", actorId: "bench", requestId: "req_bench" };

export interface AppendFigures {
  raw_insert_per_s: number;
  plain_event_insert_per_s: number;
  append_per_s: number;
  batch_append_events_per_s: number;
}

export async function benchAppend(pool: Pool, opts: { workers: number; roundMs: number; rounds: number }) {
  await pool.query("CREATE TABLE IF NOT EXISTS bench_raw (id bigserial PRIMARY KEY, payload jsonb NOT NULL)");
  // Each worker owns its aggregates, so expected sequences are known locally:
  // this measures the append path, not conflict retries.
  const seqs = new Map<string, number>();
  const aggregateFor = (w: number, i: number) => `thing_bench_w${w}_${i % 50}`;
  let n = 0;
  const single = async (w: number) => {
    const id = aggregateFor(w, n++);
    const seq = seqs.get(id) ?? 0;
    const key = newId("key");
    const body = { thing_id: id, n };
    await append(pool, {
      meta,
      events: [
        {
          aggregateType: "thing",
          aggregateId: id,
          eventType: "thing.touched",
          payload: body,
          orgId: "org_bench",
        },
      ],
      expected: [{ aggregateType: "thing", aggregateId: id, seq }],
      idempotency: {
        scope: "org_bench",
        actorId: "bench",
        endpoint: "things.touch",
        key,
        requestHash: requestHash("things.touch", body),
        response: { thing_id: id },
      },
    });
    seqs.set(id, seq + 1);
    return 1;
  };
  const batch = async (w: number) => {
    const id = `${aggregateFor(w, n++)}_b`;
    const seq = seqs.get(id) ?? 0;
    const events: NewEvent[] = Array.from({ length: 10 }, (_, i) => ({
      aggregateType: "thing",
      aggregateId: id,
      eventType: "thing.touched",
      payload: { thing_id: id, i },
      orgId: "org_bench",
    }));
    await append(pool, { meta, events, expected: [{ aggregateType: "thing", aggregateId: id, seq }] });
    seqs.set(id, seq + 10);
    return 10;
  };
  const raw = async () => {
    await pool.query({
      name: "bench_raw_insert",
      text: "INSERT INTO bench_raw (payload) VALUES ($1)",
      values: [JSON.stringify({ thing_id: "thing_x", n: n++ })],
    });
    return 1;
  };
  // The ceiling of the spec's event table itself: a plain INSERT of one event
  // row (all its indexes), no sequence check, no idempotency record.
  const plainEvent = async (w: number) => {
    await pool.query({
      name: "bench_plain_event",
      text: `INSERT INTO events (aggregate_type, aggregate_id, aggregate_seq, event_type, actor_type, actor_id,
               request_id, org_id, idempotency_key, payload)
             VALUES ('plain', $1, 1, 'plain.inserted', 'system', 'bench', 'req_bench', 'org_bench', $2, $3)`,
      values: [`plain_w${w}_${n++}`, newId("key"), JSON.stringify({ thing_id: "thing_x", n })],
    });
    return 1;
  };
  // Warm up connections and plans.
  await throughput(opts.workers, 300, raw);
  await throughput(opts.workers, 300, single);
  const sums = { raw: 0, plain: 0, single: 0, batch: 0 };
  for (let r = 0; r < opts.rounds; r++) {
    sums.raw += await throughput(opts.workers, opts.roundMs, raw);
    sums.plain += await throughput(opts.workers, opts.roundMs, plainEvent);
    sums.single += await throughput(opts.workers, opts.roundMs, single);
    sums.batch += await throughput(opts.workers, opts.roundMs, batch);
  }
  return {
    raw_insert_per_s: sums.raw / opts.rounds,
    plain_event_insert_per_s: sums.plain / opts.rounds,
    append_per_s: sums.single / opts.rounds,
    batch_append_events_per_s: sums.batch / opts.rounds,
  } satisfies AppendFigures;
}
