// Test-only helpers for the feed's tests: a bounded wait, a subscription
// collector and a minimal SSE client over a real socket (node:http).
import { type ClientRequest, type IncomingHttpHeaders, request } from "node:http";
import type { FeedMessage, FeedSubscription } from "./feed-subscription.ts";

/** Polls `cond` until it holds; throws after `timeoutMs` naming `what`. */
export async function waitUntil(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Consumes a subscription eagerly into `messages` until it ends. */
export function collect(sub: FeedSubscription): { messages: FeedMessage[]; done: Promise<void> } {
  const messages: FeedMessage[] = [];
  const done = (async () => {
    for await (const m of sub) messages.push(m);
  })();
  return { messages, done };
}

export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  /** Comment lines (without the leading colon). */
  comments: string[];
}

/** A streaming HTTP GET that parses `text/event-stream` frames as they arrive. */
export class SseTestClient {
  readonly frames: SseFrame[] = [];
  status = 0;
  headers: IncomingHttpHeaders = {};
  body = "";
  ended = false;
  #buffer = "";
  #req: ClientRequest | null = null;

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseTestClient> {
    const c = new SseTestClient();
    await new Promise<void>((resolve, reject) => {
      const req = request(url, { headers: { accept: "text/event-stream", ...headers } }, (res) => {
        c.status = res.statusCode ?? 0;
        c.headers = res.headers;
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => c.#onData(chunk));
        res.on("end", () => {
          c.ended = true;
        });
        res.on("error", () => {});
        resolve();
      });
      req.on("error", reject);
      req.end();
      c.#req = req;
    });
    return c;
  }

  /** Event frames (those with data), excluding pure comments. */
  get events(): SseFrame[] {
    return this.frames.filter((f) => f.data !== undefined);
  }

  get comments(): string[] {
    return this.frames.flatMap((f) => f.comments);
  }

  /** Drops the connection, as a browser closing its tab would. */
  close(): void {
    this.#req?.destroy();
  }

  #onData(chunk: string): void {
    this.body += chunk;
    this.#buffer += chunk;
    for (let i = this.#buffer.indexOf("\n\n"); i >= 0; i = this.#buffer.indexOf("\n\n")) {
      const block = this.#buffer.slice(0, i);
      this.#buffer = this.#buffer.slice(i + 2);
      const frame: SseFrame = { comments: [] };
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) {
          frame.comments.push(line.slice(1));
          continue;
        }
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "id") frame.id = value;
        else if (field === "event") frame.event = value;
        else if (field === "data") frame.data = frame.data === undefined ? value : `${frame.data}\n${value}`;
      }
      this.frames.push(frame);
    }
  }
}
