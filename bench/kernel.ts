// npm run bench:kernel — the kernel's figures, measured in one run on one
// database and one pool size. Prints one JSON line on stdout.

import { createPool, kernelMigrations, migrate } from "@plfm/kernel";
import pg from "pg";
import { benchAppend } from "./kernel/append.ts";
import { benchFeedFanout } from "./kernel/feed.ts";
import { benchProjectionCatchUp } from "./kernel/projection.ts";
import { benchRyw } from "./kernel/ryw.ts";
import { benchServer, report, round } from "./lib.ts";

const POOL_SIZE = Number(process.env.PLFM_BENCH_POOL ?? 8);
const server = await benchServer();
const dbName = `plfm_bench_${process.pid}`;
const admin = new pg.Client({ connectionString: server.url });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const u = new URL(server.url);
u.pathname = `/${dbName}`;
const url = u.toString();
const pool = createPool(url, { max: POOL_SIZE, applicationName: "plfm-bench" });
try {
  await migrate(pool, [kernelMigrations]);
  const feed = await benchFeedFanout(pool, url, { streams: 500, events: 200, ratePerS: 50 });
  const catchup = await benchProjectionCatchUp(pool, 200_000);
  const a = await benchAppend(pool, { workers: POOL_SIZE, roundMs: 2000, rounds: 3 });
  const ryw = await benchRyw(pool, url, { rate: 300, seconds: 10 });
  report({
    pool_size: POOL_SIZE,
    raw_insert_per_s: round(a.raw_insert_per_s, 0),
    append_per_s: round(a.append_per_s, 0),
    append_ratio: round(a.append_per_s / a.raw_insert_per_s, 3),
    plain_event_insert_per_s: round(a.plain_event_insert_per_s, 0),
    plain_event_ratio: round(a.plain_event_insert_per_s / a.raw_insert_per_s, 3),
    batch_append_events_per_s: round(a.batch_append_events_per_s, 0),
    projection_catchup_events_per_s: round(catchup, 0),
    ryw_p50_ms: round(ryw.ryw_p50_ms, 2),
    ryw_p99_ms: round(ryw.ryw_p99_ms, 2),
    ryw_append_p50_ms: round(ryw.ryw_append_p50_ms, 2),
    ryw_append_p99_ms: round(ryw.ryw_append_p99_ms, 2),
    ryw_rate_per_s: round(ryw.ryw_rate_per_s, 0),
    ryw_failures: ryw.ryw_failures,
    feed_subscribers: feed.streams,
    feed_fanout_p50_ms: feed.fanout_p50_ms,
    feed_fanout_p99_ms: feed.fanout_p99_ms,
    feed_missing: feed.missing,
    feed_rss_mb: feed.rss_streams_mb,
    feed_rss_idle_mb: feed.rss_idle_mb,
  });
} finally {
  await pool.end();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
  await server.stop();
}
