/**
 * The projection runner: one loop per projection, all woken by the shared
 * EVENTS_CHANNEL subscription.
 *
 * States of one loop and their transitions:
 *   reading      one batch transaction (see runBatch).
 *                → reading      more is readable now (the batch was full, or events
 *                               committed meanwhile), or a wake-up arrived during it;
 *                → holding      committed events wait behind a transaction still open;
 *                → sleeping     caught up;
 *                → backing off  the batch failed (apply threw, connection lost, lock timeout);
 *                → stopped      stop() was called (the batch commits or rolls back first).
 *   holding      wait 1, 2, 4 … ms (capped at 50 ms or the poll interval) or a wake-up → reading.
 *                No notification announces the end of a foreign transaction, hence the
 *                timer; the cap is low because waiters of read-your-writes are waiting.
 *   sleeping     wait for a wake-up (an events notification, or a reconnect of the
 *                notifier) or the poll interval, whichever first → reading.
 *   backing off  log, wait 100 ms doubling to 5 s; wake-ups do not cut it short, so
 *                a failing projection cannot spin at the rate of commits → reading.
 * Errors never escape a loop: a broken projection stalls (and says so in the
 * log and its lag metrics) without taking the process or the others down.
 */

import { CATCH_UP_CHANNEL } from "../channels.ts";
import type { Pool } from "../db/pool.ts";
import { KernelError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { KernelMetrics } from "../metrics.ts";
import { EVENTS_CHANNEL, type Notifier } from "../notifier.ts";
import { onLocalSignal } from "../wake.ts";
import { type BatchOutcome, runBatch } from "./batch.ts";
import type { Projection } from "./projection.ts";
import { lagAfter } from "./status.ts";

export interface ProjectionRunnerOptions {
  pool: Pool;
  projections: readonly Projection[];
  notifier: Notifier;
  metrics?: KernelMetrics;
  logger?: Logger;
  /** Events per batch transaction (default 500). */
  batchSize?: number;
  /** Fallback poll when no notification comes (default 1000 ms). */
  pollIntervalMs?: number;
  /** First delay after a failed batch, doubled up to 5 s (default 100 ms). */
  errorBackoffMs?: number;
}

const MAX_ERROR_BACKOFF_MS = 5000;
/**
 * Holds end when a foreign transaction commits, which nothing announces;
 * usually within milliseconds (appends and batches are short).
 */
const MAX_HOLD_MS = 50;
/** Lag metrics need a query while behind; at most this often per projection. */
const LAG_REFRESH_MS = 1000;

interface Loop {
  projection: Projection;
  /** A wake-up arrived since the current batch began. */
  dirty: boolean;
  /** Ends the current wait early; `interruptible` waits also end on wake-ups. */
  sleeper: { done: () => void; interruptible: boolean } | null;
  lagCheckedAt: number;
  done: Promise<void> | null;
}

/** Keeps every projection caught up with the log. */
export class ProjectionRunner {
  readonly #pool: Pool;
  readonly #notifier: Notifier;
  readonly #metrics: KernelMetrics | undefined;
  readonly #logger: Logger | undefined;
  readonly #batchSize: number;
  readonly #pollIntervalMs: number;
  readonly #errorBackoffMs: number;
  readonly #loops: Loop[];
  #started: Promise<void> | null = null;
  #stopping: Promise<void> | null = null;
  #unsubscribe: (() => void) | null = null;

  constructor(options: ProjectionRunnerOptions) {
    const names = new Set<string>();
    for (const p of options.projections) {
      if (names.has(p.name)) throw new KernelError("invalid_argument", `duplicate projection ${p.name}`);
      names.add(p.name);
    }
    this.#pool = options.pool;
    this.#notifier = options.notifier;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#batchSize = options.batchSize ?? 500;
    this.#pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.#errorBackoffMs = options.errorBackoffMs ?? 100;
    this.#loops = options.projections.map((projection) => ({
      projection,
      dirty: true,
      sleeper: null,
      lagCheckedAt: 0,
      done: null,
    }));
  }

  /** Subscribes to wake-ups, then starts every loop. Safe to call twice. */
  start(): Promise<void> {
    if (this.#stopping) return Promise.reject(new Error("ProjectionRunner: start after stop"));
    this.#started ??= this.#start();
    return this.#started;
  }

  /** Stops every loop, waiting for in-flight batches. Safe to call twice. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #start(): Promise<void> {
    // Subscribe before the first batch, so a commit between the two still wakes us.
    const offEvents = await this.#notifier.subscribe(EVENTS_CHANNEL, (payload) => this.#wakeAll(payload));
    // A waiter in this process may wait on a projection the append did not
    // wake (its events are of other types): it asks for that one by name.
    const url = this.#pool.options.connectionString;
    const offCatchUp = url
      ? onLocalSignal(url, CATCH_UP_CHANNEL, (names) => this.#wakeNamed(names))
      : () => {};
    const unsubscribe = () => {
      offEvents();
      offCatchUp();
    };
    if (this.#stopping) {
      unsubscribe();
      return;
    }
    this.#unsubscribe = unsubscribe;
    for (const loop of this.#loops) loop.done = this.#run(loop);
  }

  async #stop(): Promise<void> {
    await this.#started?.catch(() => {});
    for (const loop of this.#loops) loop.sleeper?.done();
    await Promise.all(this.#loops.map((l) => l.done));
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }

  /**
   * Wakes the loops an append concerns. In-process wake-ups name the appended
   * event types (see wake.ts); a projection filtered to other types has
   * nothing to apply and is left to its poll, so one write does not cost a
   * batch transaction in every projection. NOTIFY wake-ups from other
   * processes carry no types and wake every loop.
   */
  #wakeNamed(payload: string): void {
    const names = new Set(payload.split(","));
    for (const loop of this.#loops) {
      if (!names.has(loop.projection.name)) continue;
      loop.dirty = true;
      if (loop.sleeper?.interruptible) loop.sleeper.done();
    }
  }

  #wakeAll(payload: string | null = null): void {
    const types = payload ? new Set(payload.split(",")) : null;
    for (const loop of this.#loops) {
      const filter = loop.projection.eventTypes;
      if (types && filter && !filter.some((t) => types.has(t))) continue;
      loop.dirty = true;
      if (loop.sleeper?.interruptible) loop.sleeper.done();
    }
  }

  async #run(loop: Loop): Promise<void> {
    let errorDelay = 0;
    let holdDelay = 0;
    while (!this.#stopping) {
      loop.dirty = false;
      let wait: number;
      let interruptible = true;
      try {
        const r = await runBatch(this.#pool, loop.projection, this.#batchSize);
        errorDelay = 0;
        await this.#record(loop, r);
        if (r.more) {
          holdDelay = 0;
          wait = 0;
        } else if (r.heldBack) {
          holdDelay = Math.min(holdDelay === 0 ? 1 : holdDelay * 2, MAX_HOLD_MS, this.#pollIntervalMs);
          wait = holdDelay;
        } else {
          holdDelay = 0;
          wait = this.#pollIntervalMs;
        }
      } catch (err) {
        errorDelay = errorDelay === 0 ? this.#errorBackoffMs : Math.min(errorDelay * 2, MAX_ERROR_BACKOFF_MS);
        wait = errorDelay;
        interruptible = false;
        this.#logger?.error(
          { err, projection: loop.projection.name, retryInMs: errorDelay },
          "projection batch failed; backing off",
        );
      }
      if (this.#stopping) break;
      if (wait > 0 && !(interruptible && loop.dirty)) await this.#wait(loop, wait, interruptible);
    }
  }

  #wait(loop: Loop, ms: number, interruptible: boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        loop.sleeper = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      loop.sleeper = { done, interruptible };
    });
  }

  async #record(loop: Loop, r: BatchOutcome): Promise<void> {
    const m = this.#metrics;
    if (!m) return;
    const labels = { projection: loop.projection.name };
    if (r.applied > 0) m.projectionApplied.inc(labels, r.applied);
    if (!r.more && !r.heldBack) {
      // Read everything committed before the batch: no query needed.
      m.projectionLagEvents.set(labels, 0);
      m.projectionLagSeconds.set(labels, 0);
      return;
    }
    const now = Date.now();
    if (now - loop.lagCheckedAt < LAG_REFRESH_MS) return;
    loop.lagCheckedAt = now;
    try {
      const lag = await lagAfter(this.#pool, r.to);
      m.projectionLagEvents.set(labels, lag.events);
      m.projectionLagSeconds.set(labels, lag.oldest ? Math.max(0, (now - lag.oldest.getTime()) / 1000) : 0);
    } catch {
      // Metrics are best effort; the next batch tries again.
    }
  }
}
