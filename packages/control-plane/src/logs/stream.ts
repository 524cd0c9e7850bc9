// GET E/logs/stream (spec platform.md §4.3, §4.4): an env's log lines as
// Server-Sent Events, `event: log`, `id:` a resumable `(tx_id, id)` cursor.
import type { ServerResponse } from "node:http";
import { comparePositions, encodeCursor, type Notifier, type Pool, type Position } from "@plfm/kernel";
import { type LogFilter, type Scan, scanAfter } from "./read.ts";
import { onLogsWake } from "./wake.ts";

/**
 * Stream timing, read when a stream opens. Tests shorten it; production keeps
 * the spec's 15 s heartbeat and 5 s checkpoint silence. `pollMs` bounds the
 * delay when a wake-up is lost (NOTIFY is only a hint; §7.7 freshness < 10 s).
 */
export const logStreamSettings = { heartbeatMs: 15_000, checkpointAfterMs: 5_000, pollMs: 1_000 };

/** Rows of the env looked at per read; also the most lines sent per read. */
const SCAN_ROWS = 1000;
// After a wake-up whose rows were not readable yet (another transaction held
// the horizon back), poll fast for a little while instead of a full period.
const FAST_POLL_MS = 25;
const FAST_WINDOW_MS = 1000;

/** One process's wake-ups fanned out to its open log streams, over one LISTEN subscription. */
export class LogWakeups {
  readonly #notifier: Notifier;
  readonly #listeners = new Set<() => void>();
  #subscribed: Promise<() => void> | null = null;

  constructor(notifier: Notifier) {
    this.#notifier = notifier;
  }

  async add(fn: () => void): Promise<() => void> {
    this.#listeners.add(fn);
    this.#subscribed ??= onLogsWake(this.#notifier, () => {
      for (const l of this.#listeners) l();
    });
    await this.#subscribed;
    return () => this.#listeners.delete(fn);
  }

  async stop(): Promise<void> {
    const s = this.#subscribed;
    this.#subscribed = null;
    (await s)?.();
  }
}

export interface LogStreamOptions {
  pool: Pool;
  wakeups: LogWakeups;
  logger: { warn(obj: object, msg: string): void };
  envId: string;
  filter: LogFilter;
  start: Position;
  /** Registered so a server shutdown can end the stream; the stream removes it when done. */
  onStop: (stop: () => void) => () => void;
}

/**
 * Serves one stream on a raw response until the client goes or the server
 * stops it. States: reading (scan after the cursor; lines written, waiting for
 * `drain` when the socket is full) → waiting (a wake-up, the poll timer, or an
 * owed checkpoint falling due) → reading … → closed. A checkpoint is owed when
 * the filter passed over rows of the env: after `checkpointAfterMs` without an
 * id sent, `event: checkpoint` carries the new cursor so a sparse reader does
 * not rescan. `:heartbeat` every `heartbeatMs` throughout.
 */
export async function serveLogStream(res: ServerResponse, o: LogStreamOptions): Promise<void> {
  const settings = { ...logStreamSettings };
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
  });
  res.flushHeaders();
  const waker = new Waker();
  let closed = false;
  let notifiedAt = 0;
  const close = () => {
    closed = true;
    waker.signal();
  };
  res.on("close", close);
  const unregister = o.onStop(close);
  const unsubscribe = await o.wakeups.add(() => {
    notifiedAt = Date.now();
    waker.signal();
  });
  if (res.destroyed) close();
  const write = (chunk: string): boolean => (res.destroyed || res.writableEnded ? true : res.write(chunk));
  const heartbeat = setInterval(() => write(":heartbeat\n\n"), settings.heartbeatMs);
  let position = o.start;
  let lastSent = position;
  let lastSentAt = Date.now();
  let owed = false;
  let backoff = 0;
  try {
    while (!closed) {
      let scan: Scan;
      try {
        scan = await scanAfter(o.pool, o.envId, position, {
          scanLimit: SCAN_ROWS,
          maxItems: SCAN_ROWS,
          filter: o.filter,
        });
        backoff = 0;
      } catch (err) {
        if (closed) break;
        // A database blip: keep the stream and retry, rather than drop every stream at once.
        backoff = Math.min(backoff ? backoff * 2 : 100, 2000);
        o.logger.warn({ err }, "log stream read failed; retrying");
        await waker.wait(backoff);
        continue;
      }
      for (const { item, position: p } of scan.items) {
        if (closed) break;
        if (!write(`id: ${encodeCursor(p)}\nevent: log\ndata: ${JSON.stringify(item)}\n\n`)) {
          await drained(res);
        }
        lastSent = p;
        lastSentAt = Date.now();
      }
      if (closed) break;
      position = scan.next;
      if (scan.items.length > 0) {
        owed = false;
        notifiedAt = 0;
      }
      if (scan.skipped) owed = true;
      owed &&= comparePositions(position, lastSent) > 0;
      if (owed && Date.now() - lastSentAt >= settings.checkpointAfterMs) {
        write(`id: ${encodeCursor(position)}\nevent: checkpoint\ndata: {}\n\n`);
        lastSent = position;
        lastSentAt = Date.now();
        owed = false;
      }
      if (scan.full) continue;
      let wait = Date.now() - notifiedAt < FAST_WINDOW_MS ? FAST_POLL_MS : settings.pollMs;
      if (owed) wait = Math.min(wait, Math.max(0, lastSentAt + settings.checkpointAfterMs - Date.now()));
      await waker.wait(wait);
    }
  } finally {
    clearInterval(heartbeat);
    unsubscribe();
    unregister();
    res.off("close", close);
    if (!res.writableEnded) res.end();
  }
}

/** Resolves when the socket can take more, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/** A wake-up that is not lost when it comes while nobody waits. */
class Waker {
  #pending = false;
  #resolve: (() => void) | null = null;

  signal(): void {
    const r = this.#resolve;
    if (r) r();
    else this.#pending = true;
  }

  wait(ms: number): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#resolve = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#resolve = done;
    });
  }
}
