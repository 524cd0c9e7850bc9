import type { Queryable } from "../db/pool.ts";
import { KernelError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { EVENTS_CHANNEL, type Notifier } from "../notifier.ts";
import { comparePositions, type Position } from "../position.ts";
import { type Batch, type EventFilter, headPosition, readBatch } from "../read.ts";
import { FeedSubscription, type SubscriptionHost } from "./feed-subscription.ts";

export interface FeedHubOptions {
  db: Queryable;
  notifier: Notifier;
  /**
   * Idle polling period (default 250 ms). NOTIFY is only a hint: a commit can
   * sit above the horizon of another still-open transaction (any writer in
   * the cluster, not just event appends) whose end sends no notification, and
   * notifications sent while the LISTEN connection was down are lost. Polling
   * bounds the delay in those cases; a quarter second keeps streams feeling
   * live for a cost of four trivial index-only queries a second per process.
   */
  pollMs?: number;
  /**
   * Polling period right after a notification whose commit was not readable
   * yet (default 25 ms, for `fastPollWindowMs`, default 1000 ms): that event
   * is usually held back by an append a few milliseconds from committing, and
   * the fan-out target is 100 ms p99.
   */
  fastPollMs?: number;
  fastPollWindowMs?: number;
  /** Rows per unfiltered tail read (default 1000). */
  batchSize?: number;
  /**
   * Events a subscriber may have queued before it is moved off the live tail
   * (default 256). Live events are shared between subscribers, so the queue
   * costs a pointer per event; catch-up pages are not shared, which is what
   * this bounds: 500 subscribers × 256 events stays well under 300 MB.
   */
  queueLimit?: number;
  logger?: Logger;
}

export interface SubscribeOptions {
  /** Deliver events strictly after this position; absent = from the hub's head. */
  after?: Position | undefined;
  filter?: EventFilter | undefined;
}

export interface FeedHubStats {
  subscribers: number;
  live: number;
  overflows: number;
  head: Position | null;
}

/**
 * The process's single tail reader of the event log, fanning new events out
 * in memory to live subscribers (one per SSE stream), so N streams cost one
 * query per commit instead of N.
 *
 * Tail loop states: stopped → idle (poll timer armed) → reading (readBatch
 * pages until one is not full, each dispatched to live subscribers) → idle …
 * → stopped. A wake-up (NOTIFY, poll timer) while reading sets `again`, so a
 * commit arriving mid-read is never left for the next poll.
 *
 * Every read-and-dispatch step, and every subscriber's final catch-up step,
 * runs in one serialized section. That is what closes the gap between a
 * subscriber's catch-up and the live tail: while it reads up to the current
 * horizon (≥ the hub's head) inside that section, the head cannot move, and
 * from the next step on it is live; events it got twice are dropped by
 * position. One per process; `start()` before `subscribe()`.
 */
export class FeedHub {
  readonly #db: Queryable;
  readonly #notifier: Notifier;
  readonly #logger: Logger | undefined;
  readonly #pollMs: number;
  readonly #fastPollMs: number;
  readonly #fastPollWindowMs: number;
  readonly #batchSize: number;
  readonly #queueLimit: number;
  readonly #all = new Set<FeedSubscription>();
  readonly #live = new Set<FeedSubscription>();
  readonly #host: SubscriptionHost;
  #head: Position | null = null;
  #chain: Promise<unknown> = Promise.resolve();
  #state: "new" | "running" | "stopped" = "new";
  #reading = false;
  #again = false;
  #timer: NodeJS.Timeout | null = null;
  #notifiedAt: number | null = null;
  #unlisten: (() => void) | null = null;
  #overflows = 0;

  constructor(options: FeedHubOptions) {
    this.#db = options.db;
    this.#notifier = options.notifier;
    this.#logger = options.logger;
    this.#pollMs = options.pollMs ?? 250;
    this.#fastPollMs = options.fastPollMs ?? 25;
    this.#fastPollWindowMs = options.fastPollWindowMs ?? 1000;
    this.#batchSize = options.batchSize ?? 1000;
    this.#queueLimit = Math.max(2, options.queueLimit ?? 256);
    this.#host = {
      db: this.#db,
      logger: this.#logger,
      join: (sub) => this.#join(sub),
      detach: (sub) => {
        this.#all.delete(sub);
        this.#live.delete(sub);
      },
    };
  }

  /** Reads the head and starts listening; resolves once `subscribe` may be called. */
  async start(): Promise<void> {
    if (this.#state !== "new") throw new Error("FeedHub.start called twice");
    this.#head = await headPosition(this.#db);
    this.#state = "running";
    this.#unlisten = await this.#notifier.subscribe(EVENTS_CHANNEL, () => {
      this.#notifiedAt = Date.now();
      this.#wake();
    });
    this.#wake();
  }

  /** Closes every subscription and stops the tail loop; resolves when no read is in flight. */
  async stop(): Promise<void> {
    if (this.#state === "stopped") return;
    this.#state = "stopped";
    if (this.#timer) clearTimeout(this.#timer);
    this.#unlisten?.();
    await Promise.all([...this.#all].map((s) => s.close()));
    await this.#chain;
  }

  /** The position up to which the hub has read and dispatched. */
  get head(): Position {
    if (this.#head === null) throw new Error("FeedHub not started");
    return this.#head;
  }

  stats(): FeedHubStats {
    return {
      subscribers: this.#all.size,
      live: this.#live.size,
      overflows: this.#overflows,
      head: this.#head,
    };
  }

  /**
   * A new subscription delivering matching events strictly after `after`
   * (default: the hub's head), catching up from the database first if needed.
   */
  subscribe(options: SubscribeOptions = {}): FeedSubscription {
    if (this.#state !== "running" || this.#head === null) {
      throw new KernelError("unavailable", "The change feed is not running.");
    }
    const after = options.after ?? this.#head;
    const sub = new FeedSubscription(this.#host, after, options.filter ?? {}, this.#queueLimit);
    this.#all.add(sub);
    // At or past the head: safe to go live right away, even mid-read, since
    // the batch in flight starts at the head and `offerLive` drops anything
    // at or below the subscriber's position.
    if (comparePositions(after, this.#head) >= 0) {
      sub.goLive();
      this.#live.add(sub);
    } else {
      sub.startCatchUp();
    }
    return sub;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn);
    this.#chain = run.catch(() => {});
    return run;
  }

  #wake = (): void => {
    if (this.#state !== "running") return;
    if (this.#reading) {
      this.#again = true;
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#reading = true;
    void this.#tail();
  };

  async #tail(): Promise<void> {
    let failed = false;
    try {
      do {
        this.#again = false;
        const batch = await this.#serial(() => this.#step());
        // Fast polling is for a notified commit not yet readable; done once
        // rows arrive, or when there is nobody to deliver them to.
        if (batch.events.length > 0 || this.#live.size === 0) this.#notifiedAt = null;
        if (batch.full) this.#again = true;
      } while (this.#again && this.#state === "running");
    } catch (err) {
      failed = true;
      this.#logger?.warn({ err }, "feed hub tail read failed; retrying on the next poll");
    } finally {
      this.#reading = false;
      this.#schedulePoll(failed);
    }
  }

  /** One read-and-dispatch step; runs inside the serialized section. */
  async #step(): Promise<Batch> {
    const from = this.#head as Position;
    if (this.#live.size === 0) {
      // Nobody to feed: move the head without reading rows. Only if still
      // nobody once the query is back: a subscriber that went live at `from`
      // meanwhile needs the rows, so read them on another round.
      const h = await headPosition(this.#db);
      if (this.#live.size > 0) return { events: [], next: from, full: true };
      if (comparePositions(h, from) > 0) this.#head = h;
      return { events: [], next: this.#head as Position, full: false };
    }
    const batch = await readBatch(this.#db, from, this.#batchSize);
    for (const sub of this.#live) {
      if (!sub.offerLive(batch.events, batch.next)) {
        this.#live.delete(sub);
        this.#overflows++;
      }
    }
    this.#head = batch.next;
    return batch;
  }

  /** The final catch-up step of a subscriber; see the class comment. */
  #join(sub: FeedSubscription): Promise<boolean> {
    return this.#serial(async () => {
      if (sub.closed || this.#state !== "running") return false;
      const head = this.#head as Position;
      if (comparePositions(sub.covered, head) < 0) {
        if (sub.room < 1) return false;
        const batch = await readBatch(this.#db, sub.covered, sub.room, sub.filter);
        if (sub.closed) return false;
        sub.accept(batch);
        // Not full means it read up to the current horizon, normally at or
        // past the head's. But snapshot xmin ignores VACUUM's xid, so it can
        // dip: then rows the hub already dispatched may be above this read's
        // horizon, and the subscriber must stay catching up a little longer.
        if (batch.full || comparePositions(sub.covered, head) < 0) return false;
      }
      sub.goLive();
      this.#live.add(sub);
      return true;
    });
  }

  #schedulePoll(failed: boolean): void {
    if (this.#state !== "running") return;
    const fast =
      this.#notifiedAt !== null && Date.now() - this.#notifiedAt < this.#fastPollWindowMs && !failed;
    this.#timer = setTimeout(this.#wake, fast ? this.#fastPollMs : this.#pollMs);
    this.#timer.unref();
  }
}
