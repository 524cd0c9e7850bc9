/**
 * Leader lease: a singleton worker runs only while its process holds a
 * Postgres session advisory lock, so several replicas on one database are
 * safe and one takes over when the holder dies (its session ends, Postgres
 * drops the lock, the next standby's try succeeds).
 *
 * States and transitions (one loop per lease):
 *   standby  --pg_try_advisory_lock true-->                leader (work starts)
 *   standby  --query fails / connection lost-->            standby on a new client
 *   leader   --health check fails or times out, or the
 *              client reports an error / end-->            lost: abort work at once, wait for it
 *                                                          to settle, drop the client, standby
 *   leader   --work resolves or throws-->                  release, wait restartDelayMs, standby
 *   any      --stop()-->                                   stopped: abort work, wait for it,
 *                                                          unlock, end the client (final)
 *
 * The lock lives in a dedicated pg.Client, never a pool connection: a pool
 * would hand the session (and the lock) to unrelated queries and keep it
 * after we think we let go. Work is aborted before the lock is given up, so
 * in this process the work never outlives the lease; across processes there
 * is still a window (up to checkMs + checkTimeoutMs) where a holder whose
 * session the server already ended keeps running, so work should stay
 * idempotent and guard its writes with the log's optimistic concurrency.
 */
import { createHash } from "node:crypto";
import pg from "pg";
import type { Logger } from "./logger.ts";

export interface LeaderLeaseOptions {
  /** Connection string of the database whose advisory lock is the lease. */
  url: string;
  /** Lease name; every process using the same name competes for one lock. */
  name: string;
  logger?: Logger;
  /** Standby: how often to try the lock (default 1000 ms). */
  retryMs?: number;
  /** Leader: how often to check the session is alive (default 2000 ms). */
  checkMs?: number;
  /** A health check or lock query slower than this counts as lost (default 2000 ms). */
  checkTimeoutMs?: number;
  /** After work ends on its own: wait this long before contending again (default 1000 ms). */
  restartDelayMs?: number;
  /** application_name of the lease's session (default `plfm-lease`). */
  applicationName?: string;
}

/** What the lease is doing now. */
export type LeaseState = "idle" | "standby" | "leader" | "stopped";

/** The work a leader runs; it must return soon after `signal` aborts. */
export type LeaderWork = (signal: AbortSignal) => Promise<void>;

/**
 * The advisory-lock key of a lease name: the first 8 bytes of sha256(name)
 * read as a signed 64-bit integer (Postgres's bigint key space).
 */
export function leaseKey(name: string): bigint {
  return createHash("sha256").update(name).digest().readBigInt64BE(0);
}

type LeaderOutcome = "lost" | "ended" | "stopped";

/** A singleton-worker lease on a Postgres session advisory lock. See the file header. */
export class LeaderLease {
  readonly name: string;
  readonly #key: string;
  readonly #opts: Required<Omit<LeaderLeaseOptions, "logger">>;
  readonly #log: Logger | undefined;
  readonly #stop = new AbortController();
  #state: LeaseState = "idle";
  #running: Promise<void> | null = null;

  constructor(options: LeaderLeaseOptions) {
    this.name = options.name;
    this.#key = leaseKey(options.name).toString();
    this.#log = options.logger?.child({ lease: options.name });
    this.#opts = {
      url: options.url,
      name: options.name,
      retryMs: options.retryMs ?? 1000,
      checkMs: options.checkMs ?? 2000,
      checkTimeoutMs: options.checkTimeoutMs ?? 2000,
      restartDelayMs: options.restartDelayMs ?? 1000,
      applicationName: options.applicationName ?? "plfm-lease",
    };
  }

  /** True while this process holds the lock and its work should run. */
  get isLeader(): boolean {
    return this.#state === "leader";
  }

  get state(): LeaseState {
    return this.#state;
  }

  /**
   * Contends for the lease and runs `work` whenever it is held, until
   * {@link stop}. Resolves after stop; never rejects (failures are logged and
   * retried). Call at most once per lease.
   */
  run(work: LeaderWork): Promise<void> {
    if (this.#running) throw new Error(`lease ${this.name} is already running`);
    if (this.#stop.signal.aborted) return Promise.resolve();
    this.#running = this.#loop(work);
    return this.#running;
  }

  /** Aborts the work, waits for it, releases the lock and ends the session. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
    this.#state = "stopped";
  }

  async #loop(work: LeaderWork): Promise<void> {
    while (!this.#stop.signal.aborted) {
      this.#state = "standby";
      const session = await this.#connect();
      if (!session) break;
      let outcome: LeaderOutcome = "lost";
      try {
        if (await this.#standby(session)) outcome = await this.#lead(session, work);
      } finally {
        await this.#close(session, outcome !== "lost");
      }
      if (outcome === "ended") await this.#pause(this.#opts.restartDelayMs);
    }
    this.#state = "stopped";
  }

  /** A new session with loss detection wired up; null once stopped. */
  async #connect(): Promise<Session | null> {
    for (let attempt = 0; !this.#stop.signal.aborted; attempt++) {
      const session = new Session(this.#opts);
      try {
        await session.client.connect();
        return session;
      } catch (err) {
        if (attempt === 0) this.#log?.warn({ err }, "lease: cannot connect; retrying");
        await this.#close(session, false);
        await this.#pause(this.#opts.retryMs);
      }
    }
    return null;
  }

  /** Tries the lock every retryMs: true once held, false when the session failed or we stopped. */
  async #standby(session: Session): Promise<boolean> {
    while (!this.#stop.signal.aborted && !session.lost.signal.aborted) {
      let got: boolean;
      try {
        const res = await session.query<{ ok: boolean }>(
          "SELECT pg_try_advisory_lock($1::bigint) AS ok",
          [this.#key],
          this.#opts.checkTimeoutMs,
        );
        got = res.rows[0]?.ok === true;
      } catch (err) {
        this.#log?.warn({ err }, "lease: lock attempt failed; reconnecting");
        return false;
      }
      if (got) return true;
      await this.#pause(this.#opts.retryMs, session.lost.signal);
    }
    return false;
  }

  async #lead(session: Session, work: LeaderWork): Promise<LeaderOutcome> {
    this.#state = "leader";
    this.#log?.info("lease acquired; starting work");
    const abort = new AbortController();
    let settled = false;
    const done = Promise.resolve()
      .then(() => work(abort.signal))
      .then(
        () => "ended" as const,
        (err: unknown) => {
          if (!abort.signal.aborted) this.#log?.error({ err }, "lease: work failed; releasing the lease");
          return "ended" as const;
        },
      )
      .finally(() => {
        settled = true;
      });
    const health = this.#healthLoop(session, abort.signal);
    const interrupted = new Promise<"lost" | "stopped">((resolve) => {
      const onStop = () => resolve("stopped");
      const onLost = () => resolve("lost");
      this.#stop.signal.addEventListener("abort", onStop, { once: true });
      session.lost.signal.addEventListener("abort", onLost, { once: true });
      if (this.#stop.signal.aborted) onStop();
      else if (session.lost.signal.aborted) onLost();
      void done.then(() => {
        this.#stop.signal.removeEventListener("abort", onStop);
        session.lost.signal.removeEventListener("abort", onLost);
      });
    });
    const outcome = await Promise.race([done, interrupted]);
    // Not leader any more from here on: the work learns it at once.
    this.#state = outcome === "stopped" ? "stopped" : "standby";
    abort.abort();
    if (outcome === "lost") this.#log?.warn("lease lost; work aborted");
    await this.#settle(done, () => settled);
    await health;
    return outcome;
  }

  /** Leader: `SELECT 1` every checkMs; a failure or timeout marks the session lost. */
  async #healthLoop(session: Session, until: AbortSignal): Promise<void> {
    while (!until.aborted) {
      await this.#pause(this.#opts.checkMs, until);
      if (until.aborted) return;
      try {
        await session.query("SELECT 1", [], this.#opts.checkTimeoutMs);
      } catch (err) {
        this.#log?.warn({ err }, "lease: health check failed");
        session.lost.abort();
        return;
      }
    }
  }

  /** Waits for aborted work, complaining while it ignores its signal. */
  async #settle(done: Promise<unknown>, settled: () => boolean): Promise<void> {
    while (!settled()) {
      const wake = new AbortController();
      void done.finally(() => wake.abort());
      await pause(5000, [wake.signal]);
      if (!settled()) this.#log?.warn("lease: work has not stopped 5 s after its signal aborted");
    }
  }

  /** Ends a session; unlocks first when it is healthy so a standby need not wait for backend exit. */
  async #close(session: Session, unlock: boolean): Promise<void> {
    if (unlock && !session.lost.signal.aborted) {
      await session
        .query("SELECT pg_advisory_unlock_all()", [], this.#opts.checkTimeoutMs)
        .catch(() => session.lost.abort());
    }
    await session.end(this.#opts.checkTimeoutMs);
  }

  /** Sleeps, waking early on stop() or the given signal. */
  #pause(ms: number, also?: AbortSignal): Promise<void> {
    return pause(ms, also ? [this.#stop.signal, also] : [this.#stop.signal]);
  }
}

// Not AbortSignal.any: the stop signal lives as long as the lease, and a
// standby pauses every second; listeners must be removed, not pile up.
function pause(ms: number, signals: readonly AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    if (signals.some((s) => s.aborted)) return resolve();
    const done = () => {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const s of signals) s.addEventListener("abort", done, { once: true });
  });
}

/** One dedicated connection; `lost` aborts on any error, end, or timed-out query. */
class Session {
  readonly client: pg.Client;
  readonly lost = new AbortController();

  constructor(opts: { url: string; applicationName: string; checkTimeoutMs: number }) {
    this.client = new pg.Client({
      connectionString: opts.url,
      application_name: opts.applicationName,
      connectionTimeoutMillis: opts.checkTimeoutMs * 2,
      keepAlive: true,
    });
    // An idle client's socket error must not crash the process; it means the lease is gone.
    this.client.on("error", () => this.lost.abort());
    this.client.on("end", () => this.lost.abort());
  }

  /** A query that fails (and marks the session lost) if it takes longer than `timeoutMs`. */
  async query<R extends pg.QueryResultRow>(
    text: string,
    values: unknown[],
    timeoutMs: number,
  ): Promise<pg.QueryResult<R>> {
    const timeout = new AbortController();
    try {
      return await Promise.race([
        this.client.query<R>(text, values),
        pause(timeoutMs, [timeout.signal]).then(() => {
          if (!timeout.signal.aborted) throw new Error(`lease query timed out after ${timeoutMs} ms`);
          return never<pg.QueryResult<R>>();
        }),
      ]);
    } catch (err) {
      this.lost.abort();
      throw err;
    } finally {
      timeout.abort();
    }
  }

  /** Ends the connection, bounded: a dead peer must not hang the lease loop. */
  async end(timeoutMs: number): Promise<void> {
    const timeout = new AbortController();
    await Promise.race([this.client.end().catch(() => {}), pause(timeoutMs, [timeout.signal])]);
    timeout.abort();
  }
}

function never<T>(): Promise<T> {
  return new Promise<T>(() => {});
}

/**
 * Starts a {@link LeaderLease} running `work` whenever this process holds
 * the lease; returns it so the caller can `stop()` it on shutdown.
 */
export function runAsLeader(options: LeaderLeaseOptions, work: LeaderWork): LeaderLease {
  const lease = new LeaderLease(options);
  void lease.run(work);
  return lease;
}
