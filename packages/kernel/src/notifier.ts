import { EventEmitter } from "node:events";
import pg from "pg";
import { onLocalSignal } from "./wake.ts";

export { CHECKPOINTS_CHANNEL, EVENTS_CHANNEL } from "./channels.ts";

import { WAKE_PAYLOAD } from "./channels.ts";

/**
 * One LISTEN connection per process, shared by every waiter in it. Signals
 * raised in this process for the same database URL (see wake.ts) arrive too,
 * without the round trip through Postgres.
 *
 * States: idle → connecting → listening → (connection lost) → connecting … → stopped.
 * On every (re)connect subscribers get a wake-up with payload `null`, because
 * notifications sent while disconnected are lost: a wake-up is only a hint to
 * re-read, never data, so a spurious one is harmless and a lost one is not.
 */
export class Notifier {
  readonly #url: string;
  readonly #emitter = new EventEmitter();
  readonly #channels = new Set<string>();
  #client: pg.Client | null = null;
  #stopped = false;
  #connecting: Promise<void> | null = null;

  constructor(connectionString: string) {
    this.#url = connectionString;
    this.#emitter.setMaxListeners(0);
  }

  /** Calls `fn(payload)` on each notification; returns the unsubscribe. */
  async subscribe(channel: string, fn: (payload: string | null) => void): Promise<() => void> {
    this.#emitter.on(channel, fn);
    const offLocal = onLocalSignal(this.#url, channel, fn);
    if (!this.#channels.has(channel)) {
      this.#channels.add(channel);
      await this.#ensureConnected();
      await this.#client?.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    } else {
      await this.#ensureConnected();
    }
    return () => {
      this.#emitter.off(channel, fn);
      offLocal();
    };
  }

  async stop(): Promise<void> {
    // A connect in flight sees #stopped when it lands and closes its own client
    // (not awaited: a connect to an unreachable host may take minutes).
    this.#stopped = true;
    const c = this.#client;
    this.#client = null;
    await c?.end().catch(() => {});
  }

  #ensureConnected(): Promise<void> {
    if (this.#client || this.#stopped) return Promise.resolve();
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = null;
    });
    return this.#connecting;
  }

  async #connect(): Promise<void> {
    for (let delay = 100; !this.#stopped; delay = Math.min(delay * 2, 2000)) {
      const client = new pg.Client({ connectionString: this.#url, application_name: "plfm-notifier" });
      try {
        await client.connect();
        for (const ch of this.#channels) await client.query(`LISTEN ${pg.escapeIdentifier(ch)}`);
      } catch {
        await client.end().catch(() => {});
        await new Promise((r) => setTimeout(r, delay));
        continue;
      }
      // Stopped while connecting: keeping this client would hold the process open (a leaked LISTEN).
      if (this.#stopped) {
        await client.end().catch(() => {});
        return;
      }
      client.on("notification", (n) => {
        const payload = n.payload ?? "";
        // Another process's wake-up names no event types (null: wake all);
        // our own is an echo of what in-process signals already delivered.
        if (payload.startsWith("wake:")) {
          if (payload !== WAKE_PAYLOAD) this.#emitter.emit(n.channel, null);
          return;
        }
        this.#emitter.emit(n.channel, payload);
      });
      const lost = () => {
        if (this.#client !== client) return;
        this.#client = null;
        void this.#ensureConnected();
      };
      client.on("error", lost);
      client.on("end", lost);
      this.#client = client;
      for (const ch of this.#channels) this.#emitter.emit(ch, null);
      return;
    }
  }
}
