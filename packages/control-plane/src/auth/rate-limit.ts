/**
 * A fixed-window counter per key, in this process's memory (spec §4.5 rate
 * limits). Each replica counts alone, so N replicas allow up to N times the
 * limit; that bounds abuse, which is the point, without a shared store.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    /** Past this many keys, windows that have ended are dropped. */
    private readonly maxKeys = 10_000,
  ) {}

  /** Counts one hit for `key`: 0 when allowed, else the seconds until the window ends. */
  hit(key: string): number {
    const now = this.now();
    let w = this.windows.get(key);
    if (!w || now - w.start >= this.windowMs) {
      if (!w && this.windows.size >= this.maxKeys) this.sweep(now);
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    w.count++;
    return w.count <= this.limit ? 0 : Math.max(1, Math.ceil((w.start + this.windowMs - now) / 1000));
  }

  get size(): number {
    return this.windows.size;
  }

  private sweep(now: number): void {
    for (const [k, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(k);
  }
}
