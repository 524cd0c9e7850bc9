/**
 * The kernel's moving parts for one server process, wired together:
 *
 * - in every replica: one Notifier (LISTEN session), one CheckpointWatcher
 *   for read-your-writes waits, one FeedHub for change-feed streams;
 * - in the replica holding the leader lease only: the ProjectionRunner and
 *   the hourly clean-up of expired idempotency records.
 *
 * States: new → started (standby or leader, as the lease decides) → stopped.
 * stop() ends the leader's work first, then the hub and the watcher (pending
 * waiters fail with `unavailable`), then the LISTEN session.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Pool } from "./db/pool.ts";
import { FeedHub } from "./feed/feed-hub.ts";
import { cleanIdempotencyRecords } from "./idempotency.ts";
import { LeaderLease } from "./lease.ts";
import type { Logger } from "./logger.ts";
import type { KernelMetrics } from "./metrics.ts";
import { Notifier } from "./notifier.ts";
import type { Projection } from "./projections/projection.ts";
import { ProjectionRunner } from "./projections/runner.ts";
import { CheckpointWatcher } from "./projections/wait.ts";

export interface KernelRuntimeOptions {
  pool: Pool;
  /** Connection string of the pool's database, for the LISTEN and lease sessions. */
  url: string;
  projections: readonly Projection[];
  /** Lease name: replicas of one product on one database share it (e.g. `plfm-singletons`). */
  leaseName: string;
  metrics?: KernelMetrics;
  logger?: Logger;
  /** How often the leader deletes expired idempotency records (default 1 h). */
  cleanupIntervalMs?: number;
  /**
   * The product's own singletons (a scheduler, say), run by the leader beside
   * the projections. Each runs until `signal` aborts (lease lost or stopping)
   * and must then return; a task that throws is logged and restarted.
   */
  leaderTasks?: readonly LeaderTask[];
}

/** Work only the lease holder does, until `signal` aborts. */
export type LeaderTask = (signal: AbortSignal) => Promise<void>;

export class KernelRuntime {
  readonly notifier: Notifier;
  readonly watcher: CheckpointWatcher;
  readonly hub: FeedHub;
  readonly #lease: LeaderLease;
  readonly #options: KernelRuntimeOptions;
  #leaseRun: Promise<void> | null = null;

  constructor(options: KernelRuntimeOptions) {
    this.#options = options;
    const { pool, url, logger } = options;
    this.notifier = new Notifier(url);
    this.watcher = new CheckpointWatcher({ pool, notifier: this.notifier, ...(logger ? { logger } : {}) });
    this.hub = new FeedHub({ db: pool, notifier: this.notifier, ...(logger ? { logger } : {}) });
    this.#lease = new LeaderLease({ url, name: options.leaseName, ...(logger ? { logger } : {}) });
  }

  /** True while this process runs the singletons. */
  get isLeader(): boolean {
    return this.#lease.isLeader;
  }

  async start(): Promise<void> {
    await this.watcher.start();
    await this.hub.start();
    this.#leaseRun = this.#lease.run((signal) => this.#leaderWork(signal));
  }

  async stop(): Promise<void> {
    await this.#lease.stop();
    await this.#leaseRun;
    await this.hub.stop();
    await this.watcher.stop();
    await this.notifier.stop();
  }

  /** What only the leader runs, until the lease is lost or stopped. */
  async #leaderWork(signal: AbortSignal): Promise<void> {
    const { pool, projections, metrics, logger } = this.#options;
    const runner = new ProjectionRunner({
      pool,
      projections,
      notifier: this.notifier,
      ...(metrics ? { metrics } : {}),
      ...(logger ? { logger } : {}),
    });
    await runner.start();
    logger?.info({ projections: projections.map((p) => p.name) }, "leader: projection runner started");
    const tasks = (this.#options.leaderTasks ?? []).map((task) => this.#keepRunning(task, signal));
    try {
      const interval = this.#options.cleanupIntervalMs ?? 60 * 60 * 1000;
      while (!signal.aborted) {
        await this.#cleanIdempotency();
        await sleep(interval, undefined, { signal }).catch(() => {});
      }
    } finally {
      await Promise.all(tasks);
      await runner.stop();
    }
  }

  /** Runs `task` until `signal` aborts, restarting it (after 1 s) when it throws. */
  async #keepRunning(task: LeaderTask, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await task(signal);
      } catch (err) {
        this.#options.logger?.error({ err }, "a leader task failed; restarting it in 1 s");
      }
      await sleep(1000, undefined, { signal }).catch(() => {});
    }
  }

  async #cleanIdempotency(): Promise<void> {
    try {
      let deleted = 0;
      for (let n = -1; n !== 0; ) {
        n = await cleanIdempotencyRecords(this.#options.pool);
        deleted += n;
      }
      if (deleted > 0) this.#options.logger?.info({ deleted }, "expired idempotency records cleaned");
    } catch (err) {
      this.#options.logger?.warn({ err }, "idempotency clean-up failed; retrying at the next interval");
    }
  }
}
