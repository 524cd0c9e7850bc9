// feed_fanout_p99_ms and feed_rss_mb: N SSE streams (500) on one FeedHub in
// this process, served over real sockets to a child process that holds the
// clients; appends events one by one and measures commit → receipt latency
// over every (event, stream) pair, and this process's RSS while serving them.
// Runs first in bench:kernel so the RSS is the serving process's, not what
// earlier phases left behind.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { append, FeedHub, Notifier, type Pool, serveSse } from "@plfm/kernel";

const now = () => performance.timeOrigin + performance.now();

export interface FanoutFigures {
  streams: number;
  events: number;
  fanout_p50_ms: number;
  fanout_p99_ms: number;
  fanout_max_ms: number;
  missing: number;
  rss_idle_mb: number;
  rss_streams_mb: number;
}

export async function benchFeedFanout(
  pool: Pool,
  url: string,
  opts: { streams: number; events: number; ratePerS: number },
): Promise<FanoutFigures> {
  const notifier = new Notifier(url);
  const hub = new FeedHub({ db: pool, notifier });
  await hub.start();
  const server = createServer((req, res) => void serveSse(req, res, { hub }));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  global.gc?.();
  const rssIdle = process.memoryUsage().rss;
  const child = spawn(
    process.execPath,
    ["--import", "tsx", fileURLToPath(import.meta.url), "client", String(port), String(opts.streams)],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const lines = createInterface({ input: child.stdout });
  const next = () => new Promise<string>((r) => lines.once("line", r));
  try {
    if ((await next()) !== "READY") throw new Error("client failed");
    while (hub.stats().subscribers < opts.streams) await new Promise((r) => setTimeout(r, 20));
    const committed = new Map<string, number>();
    for (let i = 0; i < opts.events; i++) {
      const r = await append(pool, {
        meta: { actorType: "system", actorId: "bench", requestId: "req_bench" },
        events: [
          { aggregateType: "thing", aggregateId: `fan_${i}`, eventType: "thing.touched", payload: { i } },
        ],
      });
      if (!r.replayed) committed.set((r.events[0] as { eventId: bigint }).eventId.toString(), now());
      await new Promise((res) => setTimeout(res, 1000 / opts.ratePerS));
    }
    await new Promise((r) => setTimeout(r, 1000));
    global.gc?.();
    const rssStreams = process.memoryUsage().rss;
    child.stdin.write(`DONE ${JSON.stringify(Object.fromEntries(committed))}\n`);
    const { lat, missing } = JSON.parse(await next()) as { lat: number[]; missing: number };
    const pct = (p: number) =>
      lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)] ?? Number.NaN;
    const r2 = (n: number) => Math.round(n * 100) / 100;
    return {
      streams: opts.streams,
      events: committed.size,
      fanout_p50_ms: r2(pct(50)),
      fanout_p99_ms: r2(pct(99)),
      fanout_max_ms: r2(lat[lat.length - 1] ?? Number.NaN),
      missing,
      rss_idle_mb: Math.round(rssIdle / 2 ** 20),
      rss_streams_mb: Math.round(rssStreams / 2 ** 20),
    };
  } finally {
    child.kill();
    await hub.stop();
    server.closeAllConnections();
    server.close();
    await notifier.stop();
  }
}

/** The client side: `streams` SSE connections; receipt times per event id. */
async function clientMain(port: number, streams: number): Promise<void> {
  const received = new Map<string, number[]>();
  await Promise.all(
    Array.from(
      { length: streams },
      () =>
        new Promise<void>((resolve, reject) => {
          const req = request({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
            res.setEncoding("utf8");
            let buf = "";
            res.on("data", (chunk: string) => {
              const t = now();
              buf += chunk;
              for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
                const m = /"event_id":"(\d+)"/.exec(buf.slice(0, i));
                buf = buf.slice(i + 2);
                if (m?.[1]) {
                  const list = received.get(m[1]) ?? [];
                  list.push(t);
                  received.set(m[1], list);
                }
              }
            });
            resolve();
          });
          req.on("error", reject);
          req.end();
        }),
    ),
  );
  console.log("READY");
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.startsWith("DONE ")) continue;
    // Latency per (event, stream) pair against the parent's commit times.
    const committed = JSON.parse(line.slice(5)) as Record<string, number>;
    const lat: number[] = [];
    let missing = 0;
    for (const [id, t0] of Object.entries(committed)) {
      const times = received.get(id) ?? [];
      missing += streams - times.length;
      for (const t of times) lat.push(t - t0);
    }
    lat.sort((a, b) => a - b);
    process.stdout.write(`${JSON.stringify({ lat, missing })}\n`, () => process.exit(0));
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv[2] === "client") {
  await clientMain(Number(process.argv[3]), Number(process.argv[4]));
}
