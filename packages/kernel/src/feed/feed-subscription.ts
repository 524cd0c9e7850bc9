import type { Queryable } from "../db/pool.ts";
import { positionOf, type StoredEvent } from "../events.ts";
import type { Logger } from "../logger.ts";
import { comparePositions, type Position } from "../position.ts";
import { type Batch, type EventFilter, readBatch } from "../read.ts";
import { matchesFilter } from "./match-filter.ts";

/** What a subscriber receives, in strictly increasing position order. */
export type FeedMessage =
  | { type: "event"; event: StoredEvent; position: Position }
  /**
   * Every matching event up to `position` has been delivered: rows were
   * skipped by the filter, and a sparse consumer can record this as progress.
   */
  | { type: "checkpoint"; position: Position };

/** The hub as a subscription sees it; kept narrow so the two stay decoupled. */
export interface SubscriptionHost {
  readonly db: Queryable;
  readonly logger: Logger | undefined;
  /** Final catch-up step inside the hub's serialized dispatch; true = now live. */
  join(sub: FeedSubscription): Promise<boolean>;
  detach(sub: FeedSubscription): void;
}

type State = "catching_up" | "live" | "closed";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * One consumer of the change feed: an async iterator of {@link FeedMessage}s.
 * Single consumer: do not call `next()` again before the previous call settles.
 *
 * States: catching_up → live → (queue overflow) → catching_up … → closed.
 * - catching_up: a pull-driven loop reads filtered pages from the database
 *   after `covered`, only while the queue has room; when a page comes back not
 *   full it asks the hub to join, and the hub does the last step inside its
 *   serialized dispatch (see FeedHub), so no event falls between the two.
 * - live: the hub offers each batch it reads; events at or below `covered` are
 *   dropped, which is what makes joining with a cursor ahead of the hub safe.
 * - overflow: a consumer too slow to keep up with the live tail is not allowed
 *   to grow its queue without bound nor to hold back the others. It leaves the
 *   live set and goes back to catching_up from its last queued event: nothing
 *   is lost, memory stays bounded, and it rejoins once it has caught up.
 * - closed: by the consumer (`return()`/`close()`) or by the hub's stop.
 */
export class FeedSubscription implements AsyncIterableIterator<FeedMessage> {
  readonly filter: EventFilter;
  readonly #host: SubscriptionHost;
  readonly #limit: number;
  readonly #filtered: boolean;
  #state: State = "catching_up";
  #queue: StoredEvent[] = [];
  /** Every matching event at or below it is queued or already yielded. */
  #covered: Position;
  /** The last position handed to the consumer. */
  #yielded: Position;
  /** The filter dropped rows since the last checkpoint: one is owed. */
  #skipped = false;
  #consumerWaiter: (() => void) | null = null;
  #roomWaiter: (() => void) | null = null;
  #loop: Promise<void> = Promise.resolve();
  #overflows = 0;

  /** @internal Created by FeedHub.subscribe. */
  constructor(host: SubscriptionHost, after: Position, filter: EventFilter, queueLimit: number) {
    this.#host = host;
    this.filter = filter;
    this.#limit = queueLimit;
    this.#covered = after;
    this.#yielded = after;
    this.#filtered = Object.values(filter).some((v) => v != null);
  }

  /** The last position the consumer has been handed (its resumable cursor). */
  get position(): Position {
    return this.#yielded;
  }

  get live(): boolean {
    return this.#state === "live";
  }

  get closed(): boolean {
    return this.#state === "closed";
  }

  /** Times this subscriber fell off the live tail and went back to the database. */
  get overflows(): number {
    return this.#overflows;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<FeedMessage, undefined>> {
    for (;;) {
      if (this.#state === "closed") return { done: true, value: undefined };
      const e = this.#queue.shift();
      if (e !== undefined) {
        const position = positionOf(e);
        this.#yielded = position;
        if (this.#queue.length <= this.#limit / 2) this.#signal("room");
        return { done: false, value: { type: "event", event: e, position } };
      }
      if (this.#skipped && comparePositions(this.#covered, this.#yielded) > 0) {
        this.#skipped = false;
        this.#yielded = this.#covered;
        return { done: false, value: { type: "checkpoint", position: this.#covered } };
      }
      await new Promise<void>((r) => {
        this.#consumerWaiter = r;
      });
    }
  }

  async return(): Promise<IteratorResult<FeedMessage, undefined>> {
    await this.close();
    return { done: true, value: undefined };
  }

  /** Leaves the feed; resolves once no database read of this subscriber is in flight. */
  async close(): Promise<void> {
    if (this.#state !== "closed") {
      this.#state = "closed";
      this.#queue = [];
      this.#host.detach(this);
      this.#signal("consumer");
      this.#signal("room");
    }
    await this.#loop;
  }

  /** @internal Room left in the queue, for the hub's final catch-up read. */
  get room(): number {
    return this.#limit - this.#queue.length;
  }

  /** @internal */
  get covered(): Position {
    return this.#covered;
  }

  /** @internal Starts (or restarts, after an overflow) reading from the database. */
  startCatchUp(): void {
    this.#state = "catching_up";
    this.#loop = this.#catchUp();
  }

  /** @internal Called by the hub, inside its serialized section. */
  goLive(): void {
    this.#state = "live";
  }

  /** @internal Queues the matching events of a database page read after `covered`. */
  accept(batch: Batch): void {
    for (const e of batch.events) this.#queue.push(e);
    const last = batch.events[batch.events.length - 1];
    if (last) this.#covered = positionOf(last);
    if (comparePositions(batch.next, this.#covered) > 0) {
      this.#covered = batch.next;
      // The SQL filter does not say whether it dropped rows; assume it did
      // when there is a filter, so a sparse reader gets its progress.
      if (this.#filtered) this.#skipped = true;
    }
    this.#signal("consumer");
  }

  /**
   * @internal The hub's live fan-out of one unfiltered batch ending at `head`.
   * Returns false when the queue overflowed and the subscriber left live mode.
   */
  offerLive(events: readonly StoredEvent[], head: Position): boolean {
    for (const e of events) {
      if (!isAfter(e, this.#covered)) continue;
      if (!matchesFilter(this.filter, e)) {
        this.#skipped = true;
        continue;
      }
      if (this.#queue.length >= this.#limit) {
        this.#overflows++;
        this.startCatchUp();
        this.#signal("consumer");
        return false;
      }
      this.#queue.push(e);
      this.#covered = positionOf(e);
    }
    if (comparePositions(head, this.#covered) > 0) this.#covered = head;
    this.#signal("consumer");
    return true;
  }

  async #catchUp(): Promise<void> {
    let backoff = 0;
    while (this.#state === "catching_up") {
      if (this.#queue.length > this.#limit / 2) {
        await new Promise<void>((r) => {
          this.#roomWaiter = r;
        });
        continue;
      }
      try {
        const batch = await readBatch(this.#host.db, this.#covered, this.room, this.filter);
        if (this.#state !== "catching_up") return;
        this.accept(batch);
        backoff = 0;
        if (!batch.full) {
          if (await this.#host.join(this)) return;
          // Fell behind again while joining (the hub's read was full): go on
          // reading, after a breath so a pathological case cannot spin.
          await sleep(5);
        }
      } catch (err) {
        if (this.#state !== "catching_up") return;
        // A database blip: retry rather than drop every stream at once.
        backoff = Math.min(backoff ? backoff * 2 : 100, 2000);
        this.#host.logger?.warn({ err }, "feed subscriber catch-up failed; retrying");
        await sleep(backoff);
      }
    }
  }

  #signal(which: "consumer" | "room"): void {
    const w = which === "consumer" ? this.#consumerWaiter : this.#roomWaiter;
    if (which === "consumer") this.#consumerWaiter = null;
    else this.#roomWaiter = null;
    w?.();
  }
}

function isAfter(e: StoredEvent, p: Position): boolean {
  return e.txId > p.txId || (e.txId === p.txId && e.eventId > p.eventId);
}
