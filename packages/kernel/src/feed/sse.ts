import type { IncomingMessage, ServerResponse } from "node:http";
import { httpStatusFor, isKernelError, type KernelError } from "../errors.ts";
import type { StoredEvent } from "../events.ts";
import { comparePositions, decodeCursor, encodeCursor, type Position, START } from "../position.ts";
import type { EventFilter } from "../read.ts";
import type { FeedHub } from "./feed-hub.ts";
import type { FeedSubscription } from "./feed-subscription.ts";
import { toWire } from "./to-wire.ts";

export interface SseOptions {
  hub: FeedHub;
  filter?: EventFilter | undefined;
  /** Cursor to resume after, e.g. from a parsed `?after=`; `Last-Event-ID` still wins. */
  after?: string | undefined;
  /** The `event:` field; default the event type. */
  eventName?: ((e: StoredEvent) => string) | undefined;
  /** The `data:` value before JSON encoding; default {@link toWire}. */
  toData?: ((e: StoredEvent) => unknown) | undefined;
  /** Period of the `:heartbeat` comment that keeps proxies from closing an idle stream. */
  heartbeatMs?: number | undefined;
  /** Silence after which skipped rows are reported as an `event: checkpoint`. */
  checkpointAfterMs?: number | undefined;
  /** With no cursor: start at the head (default), or at the beginning of the log. */
  startAtHead?: boolean | undefined;
}

/**
 * Where a stream starts: `Last-Event-ID` (wins), else `options.after`, else
 * `?after=`; empty values count as absent (EventSource sends none before its
 * first id). `"head"` when there is none and `startAtHead`. Throws
 * `invalid_cursor`: call it before hijacking a framework's reply to have the
 * framework render the error its usual way.
 */
export function sseStart(
  req: IncomingMessage,
  options: { after?: string | undefined; startAtHead?: boolean | undefined } = {},
): Position | "head" {
  const header = req.headers["last-event-id"];
  const fromHeader = Array.isArray(header) ? header[0] : header;
  const fromQuery = new URL(req.url ?? "/", "http://localhost").searchParams.get("after");
  const cursor = [fromHeader, options.after, fromQuery].find((c) => typeof c === "string" && c !== "");
  if (cursor) return decodeCursor(cursor);
  return (options.startAtHead ?? true) ? "head" : START;
}

/**
 * Serves the change feed as Server-Sent Events on a raw node response (a
 * `node:http` handler's, or fastify's `reply.raw` after `reply.hijack()`).
 * Resolves when the stream is over: the client went away (its subscription
 * is closed then) or the hub stopped (the response is ended, so the client
 * reconnects with its last id). A bad cursor gets a 400 problem document
 * before anything is streamed. Rejects only if `eventName`/`toData` throw.
 * A client that stops reading is not cut off: the stream waits for `drain`,
 * its subscription overflows to database catch-up (bounded memory), and the
 * socket's own timeouts or the client decide when it ends.
 *
 * Each event is `id: <cursor>\nevent: <name>\ndata: <json>\n\n`; the ids are
 * resumable cursors. Stream states: streaming (events as they come; a
 * `:heartbeat` comment every `heartbeatMs`) ↔ owing a checkpoint (the filter
 * skipped rows: after `checkpointAfterMs` without an id sent, an
 * `event: checkpoint` with `data: {}` carries the new id) → closed.
 */
export async function serveSse(
  req: IncomingMessage,
  res: ServerResponse,
  options: SseOptions,
): Promise<void> {
  let sub: FeedSubscription;
  let start: Position;
  try {
    const from = sseStart(req, options);
    sub = options.hub.subscribe({ after: from === "head" ? undefined : from, filter: options.filter });
    start = sub.position;
  } catch (err) {
    if (!isKernelError(err)) throw err;
    writeProblem(res, err);
    return;
  }
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
  });
  res.flushHeaders();
  const stream = new SseWriter(res, options, start);
  const onClose = () => void sub.close();
  res.on("close", onClose);
  // The client may have gone before we were called (a framework awaited auth):
  // "close" was emitted already and will not come again.
  if (res.destroyed || req.socket.destroyed) onClose();
  try {
    for await (const msg of sub) {
      if (msg.type === "event") await stream.event(msg.event, msg.position);
      else stream.checkpoint(msg.position);
    }
  } finally {
    res.off("close", onClose);
    stream.stop();
    await sub.close();
    if (!res.writableEnded) res.end();
  }
}

// JSON of the default envelope, computed once per event object however many
// streams send it: live events are shared between subscribers.
const wireJson = new WeakMap<StoredEvent, string>();

function defaultData(e: StoredEvent): string {
  let json = wireJson.get(e);
  if (json === undefined) {
    json = JSON.stringify(toWire(e));
    wireJson.set(e, json);
  }
  return json;
}

/** The write side of one stream: frames, heartbeats and owed checkpoints. */
class SseWriter {
  readonly #res: ServerResponse;
  readonly #options: SseOptions;
  readonly #checkpointAfterMs: number;
  readonly #heartbeat: NodeJS.Timeout;
  #lastSentAt = Date.now();
  #lastSent: Position;
  #owed: Position | null = null;
  #checkpointTimer: NodeJS.Timeout | null = null;

  constructor(res: ServerResponse, options: SseOptions, start: Position) {
    this.#res = res;
    this.#options = options;
    this.#lastSent = start;
    this.#checkpointAfterMs = options.checkpointAfterMs ?? 5000;
    this.#heartbeat = setInterval(() => this.#write(":heartbeat\n\n"), options.heartbeatMs ?? 15000);
  }

  /** Sends one event; waits while the socket's buffer is full (backpressure). */
  async event(e: StoredEvent, position: Position): Promise<void> {
    const name = (this.#options.eventName?.(e) ?? e.eventType).replace(/[\r\n]/g, "");
    const data = this.#options.toData ? JSON.stringify(this.#options.toData(e)) : defaultData(e);
    this.#owed = null;
    this.#sent(position);
    if (!this.#write(`id: ${encodeCursor(position)}\nevent: ${name}\ndata: ${data}\n\n`)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#res.off("drain", done);
          this.#res.off("close", done);
          resolve();
        };
        this.#res.on("drain", done);
        this.#res.on("close", done);
      });
    }
  }

  /** Records progress past skipped rows; sent once the stream has been silent long enough. */
  checkpoint(position: Position): void {
    if (comparePositions(position, this.#lastSent) <= 0) return;
    this.#owed = position;
    if (this.#checkpointTimer === null) this.#flushCheckpoint();
  }

  stop(): void {
    clearInterval(this.#heartbeat);
    if (this.#checkpointTimer) clearTimeout(this.#checkpointTimer);
    this.#checkpointTimer = null;
  }

  #flushCheckpoint = (): void => {
    this.#checkpointTimer = null;
    if (this.#owed === null) return;
    const wait = this.#lastSentAt + this.#checkpointAfterMs - Date.now();
    if (wait > 0) {
      this.#checkpointTimer = setTimeout(this.#flushCheckpoint, wait);
      return;
    }
    const p = this.#owed;
    this.#owed = null;
    this.#sent(p);
    this.#write(`id: ${encodeCursor(p)}\nevent: checkpoint\ndata: {}\n\n`);
  };

  #sent(p: Position): void {
    this.#lastSent = p;
    this.#lastSentAt = Date.now();
  }

  #write(chunk: string): boolean {
    if (this.#res.destroyed || this.#res.writableEnded) return true;
    return this.#res.write(chunk);
  }
}

/** A 400 (or 503) problem document, for callers that did not render errors themselves. */
function writeProblem(res: ServerResponse, err: KernelError): void {
  const status = httpStatusFor(err.code);
  const requestId = res.getHeader("x-request-id");
  const body: Record<string, unknown> = {
    type: "about:blank",
    title: err.code,
    status,
    detail: err.message,
    code: err.code,
    retryable: err.retryable,
  };
  if (typeof requestId === "string") {
    body.instance = requestId;
    body.request_id = requestId;
  }
  res.writeHead(status, {
    "content-type": "application/problem+json; charset=utf-8",
    "cache-control": "no-store",
  });
  res.end(JSON.stringify(body));
}
