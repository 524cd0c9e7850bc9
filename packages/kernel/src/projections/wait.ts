/**
 * Read-your-writes: a handler appends, then waits until the projections it
 * reads from have passed the appended position.
 *
 * One watcher per process serves every waiter. It learns checkpoints from the
 * runner's CHECKPOINTS_CHANNEL notifications (payload `<name>:<tx>:<id>`), so a
 * typical wait costs no query at all. Notifications can be lost (a reconnect),
 * so while anyone waits a single timer re-reads projection_checkpoints every
 * 25 ms; one query serves every waiter of that tick.
 *
 * States: idle → subscribing (first waitFor or start) → watching; while
 * watching, the poll timer runs only when waiters exist → stopped (pending
 * waiters fail with `unavailable`).
 */
import { CATCH_UP_CHANNEL } from "../channels.ts";
import type { Queryable } from "../db/pool.ts";
import { KernelError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { CHECKPOINTS_CHANNEL, type Notifier } from "../notifier.ts";
import { comparePositions, type Position } from "../position.ts";
import { signalLocal } from "../wake.ts";
import { parseCheckpointPayload, readCheckpoints } from "./projection.ts";

export interface CheckpointWatcherOptions {
  pool: Queryable;
  notifier: Notifier;
  /** Polling fallback while waiters exist (default 25 ms). */
  pollIntervalMs?: number;
  logger?: Logger;
}

export interface WaitOptions {
  /** Default 5000 ms; then `projection_timeout` (the write itself is committed). */
  timeoutMs?: number;
}

interface Known {
  position: Position;
  /** Bumped by each notification, so an older poll result cannot overwrite a newer one. */
  gen: number;
}

interface Waiter {
  position: Position;
  names: readonly string[];
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Per-process cache of projection checkpoints that many waiters share. */
export class CheckpointWatcher {
  readonly #db: Queryable;
  readonly #notifier: Notifier;
  readonly #pollIntervalMs: number;
  readonly #logger: Logger | undefined;
  readonly #known = new Map<string, Known>();
  readonly #waiters = new Set<Waiter>();
  #gen = 0;
  #started: Promise<void> | null = null;
  #stopped = false;
  #unsubscribe: (() => void) | null = null;
  #timer: NodeJS.Timeout | null = null;
  #polling = false;

  constructor(options: CheckpointWatcherOptions) {
    this.#db = options.pool;
    this.#notifier = options.notifier;
    this.#pollIntervalMs = options.pollIntervalMs ?? 25;
    this.#logger = options.logger;
  }

  /**
   * Subscribes and seeds the cache; waitFor calls it on first use. Never
   * rejects: while the subscription is down, the poll still serves waiters.
   */
  start(): Promise<void> {
    this.#started ??= this.#start().catch((err: unknown) => {
      this.#logger?.warn({ err }, "checkpoint watcher could not subscribe; will retry");
      this.#started = null;
    });
    return this.#started;
  }

  /**
   * Resolves once every named projection's checkpoint is at or past
   * `position`; at once for a null position or no names. Rejects with
   * `projection_timeout` after `timeoutMs`.
   */
  async waitFor(
    position: Position | null | undefined,
    projectionNames: readonly string[],
    options: WaitOptions = {},
  ): Promise<void> {
    if (position == null || projectionNames.length === 0) return;
    if (this.#stopped) throw stoppedError();
    // Not awaited: the timeout below must bound the wait even while the
    // notifier cannot connect.
    void this.start();
    if (this.#passed(position, projectionNames)) return;
    // A runner in this process wakes projections by the event types appended;
    // make sure the ones waited on run even if the position's events are not theirs.
    signalLocal(this.#db, CATCH_UP_CHANNEL, projectionNames.join(","));
    const timeoutMs = options.timeoutMs ?? 5000;
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        position,
        names: projectionNames,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#remove(waiter);
          const behind = projectionNames.filter((n) => !this.#passed(position, [n]));
          reject(
            new KernelError(
              "projection_timeout",
              `The change was saved, but ${behind.join(", ")} did not catch up within ${timeoutMs} ms.`,
              { retryable: true, extra: { projections: behind } },
            ),
          );
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
      this.#timer ??= setInterval(() => void this.#poll(), this.#pollIntervalMs);
    });
  }

  /** The last checkpoint this process knows of, if any (for diagnostics). */
  known(name: string): Position | undefined {
    return this.#known.get(name)?.position;
  }

  /** Unsubscribes; pending waiters fail with `unavailable`. */
  async stop(): Promise<void> {
    this.#stopped = true;
    // A subscription still being made unsubscribes itself (see #start).
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    for (const w of [...this.#waiters]) {
      this.#remove(w);
      w.reject(stoppedError());
    }
  }

  async #start(): Promise<void> {
    const unsubscribe = await this.#notifier.subscribe(CHECKPOINTS_CHANNEL, (p) => this.#onNotification(p));
    if (this.#stopped) {
      unsubscribe();
      return;
    }
    this.#unsubscribe = unsubscribe;
    await this.#poll();
  }

  #onNotification(payload: string | null): void {
    if (payload === null) {
      // (Re)connected: notifications may have been lost meanwhile.
      void this.#poll();
      return;
    }
    const parsed = parseCheckpointPayload(payload);
    if (!parsed) return;
    // Set, not max: one projection's notifications arrive in commit order (its
    // row lock serialises them), and a rebuild must move the position back.
    this.#known.set(parsed.name, { position: parsed.position, gen: ++this.#gen });
    this.#settle();
  }

  async #poll(): Promise<void> {
    if (this.#polling || this.#stopped) return;
    this.#polling = true;
    try {
      const names = new Set<string>();
      for (const w of this.#waiters) for (const n of w.names) names.add(n);
      const gens = new Map([...this.#known].map(([n, k]) => [n, k.gen]));
      // Before any waiter, seed everything: the table is one row per projection.
      const rows = await readCheckpoints(this.#db, names.size > 0 ? [...names] : undefined);
      for (const [name, position] of rows) {
        if (this.#known.get(name)?.gen !== gens.get(name)) continue; // a notification was newer
        this.#known.set(name, { position, gen: ++this.#gen });
      }
      this.#settle();
    } catch (err) {
      this.#logger?.warn({ err }, "checkpoint poll failed");
    } finally {
      this.#polling = false;
    }
  }

  #passed(position: Position, names: readonly string[]): boolean {
    for (const n of names) {
      const k = this.#known.get(n);
      if (!k || comparePositions(k.position, position) < 0) return false;
    }
    return true;
  }

  #settle(): void {
    for (const w of this.#waiters) {
      if (this.#passed(w.position, w.names)) {
        this.#remove(w);
        w.resolve();
      }
    }
  }

  #remove(w: Waiter): void {
    clearTimeout(w.timer);
    this.#waiters.delete(w);
    if (this.#waiters.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }
}

function stoppedError(): KernelError {
  return new KernelError("unavailable", "The checkpoint watcher is stopped.", { retryable: true });
}
