// Open log streams per org and per token (spec platform.md §4.5: 20 per org,
// 5 per token). Counted in this process's memory: with several replicas each
// counts its own streams, so a tenant may hold up to N times the limit. That
// still bounds what one tenant costs a replica, which is the point, without a
// shared store.
import { createHash } from "node:crypto";
import { KernelError } from "@plfm/kernel";

export const MAX_STREAMS_PER_ORG = 20;
export const MAX_STREAMS_PER_TOKEN = 5;
/** What a refused client is told to wait: streams end when their clients go. */
const RETRY_AFTER_SECONDS = 5;

export class StreamSlots {
  readonly #open = new Map<string, number>();

  /**
   * Takes one slot for the org and one for the token; returns the release
   * (idempotent). Throws `rate_limited` when either is full. The token is
   * keyed by its sha256: the raw header is never kept.
   */
  acquire(orgId: string, authorization: string): () => void {
    const orgKey = `org:${orgId}`;
    const tokenKey = `token:${createHash("sha256").update(authorization).digest("hex")}`;
    if ((this.#open.get(orgKey) ?? 0) >= MAX_STREAMS_PER_ORG) {
      throw limited(`At most ${MAX_STREAMS_PER_ORG} log streams may be open per org.`);
    }
    if ((this.#open.get(tokenKey) ?? 0) >= MAX_STREAMS_PER_TOKEN) {
      throw limited(`At most ${MAX_STREAMS_PER_TOKEN} log streams may be open per token.`);
    }
    this.#add(orgKey, 1);
    this.#add(tokenKey, 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#add(orgKey, -1);
      this.#add(tokenKey, -1);
    };
  }

  #add(key: string, delta: number): void {
    const n = (this.#open.get(key) ?? 0) + delta;
    if (n <= 0) this.#open.delete(key);
    else this.#open.set(key, n);
  }
}

function limited(message: string): KernelError {
  return new KernelError("rate_limited", message, { extra: { retry_after_seconds: RETRY_AFTER_SECONDS } });
}
