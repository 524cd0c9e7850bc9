// ryw_p99_ms: commands at a steady rate, each appending and then waiting until
// a projection has applied it (the read-your-writes path of every API write).
import { setTimeout as sleep } from "node:timers/promises";
import {
  append,
  CheckpointWatcher,
  catchUp,
  Notifier,
  newId,
  type Pool,
  ProjectionRunner,
  requestHash,
} from "@plfm/kernel";
import { percentile } from "../lib.ts";
import { counterProjection, createCounterTable } from "./projection.ts";

const meta = { actorType: "system", actorId: "bench", requestId: "req_bench" };

export async function benchRyw(pool: Pool, url: string, opts: { rate: number; seconds: number }) {
  await createCounterTable(pool, "bench_ryw_view");
  const projection = counterProjection("bench_ryw", "bench_ryw_view");
  await catchUp(pool, projection, { batchSize: 2000 });
  const notifier = new Notifier(url);
  const runner = new ProjectionRunner({ pool, projections: [projection], notifier });
  const watcher = new CheckpointWatcher({ pool, notifier });
  await runner.start();
  await watcher.start();
  const latencies: number[] = [];
  const appendLatencies: number[] = [];
  let failures = 0;
  const command = async (i: number) => {
    const id = `ryw_${i % 500}`;
    const body = { id, i };
    const t0 = performance.now();
    try {
      const r = await append(pool, {
        meta,
        events: [{ aggregateType: "ryw", aggregateId: id, eventType: "ryw.touched", payload: body }],
        idempotency: {
          scope: "org_bench",
          actorId: "bench",
          endpoint: "ryw.touch",
          key: newId("key"),
          requestHash: requestHash("ryw.touch", body),
          response: {},
        },
      });
      appendLatencies.push(performance.now() - t0);
      await watcher.waitFor(r.position, ["bench_ryw"]);
      latencies.push(performance.now() - t0);
    } catch {
      failures++;
    }
  };
  // Open loop: commands start on schedule whether or not earlier ones are done.
  const total = opts.rate * opts.seconds;
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / opts.rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    inflight.push(command(i));
  }
  await Promise.all(inflight);
  const achieved = total / ((performance.now() - start) / 1000);
  await watcher.stop();
  await runner.stop();
  await notifier.stop();
  latencies.sort((a, b) => a - b);
  appendLatencies.sort((a, b) => a - b);
  return {
    ryw_p50_ms: percentile(latencies, 50),
    ryw_p99_ms: percentile(latencies, 99),
    ryw_append_p50_ms: percentile(appendLatencies, 50),
    ryw_append_p99_ms: percentile(appendLatencies, 99),
    ryw_rate_per_s: achieved,
    ryw_failures: failures,
  };
}
