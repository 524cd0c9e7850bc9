// Shared helpers for benchmark scripts: a throwaway database, timed loops,
// percentiles, and the one-JSON-line report.
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from "@plfm/kernel";
import pg from "pg";

export interface BenchServer {
  /** Server URL (any database); benchmarks create their own database on it. */
  url: string;
  stop(): Promise<void>;
}

/**
 * PLFM_BENCH_DATABASE_URL, else the machine's Postgres at 127.0.0.1:5432 when
 * it answers, else an embedded one. Both peers of a ratio run on the same one.
 */
export async function benchServer(): Promise<BenchServer> {
  const candidates = [process.env.PLFM_BENCH_DATABASE_URL, "postgres://postgres@127.0.0.1:5432/postgres"];
  for (const url of candidates) {
    if (!url) continue;
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await c.connect();
      await c.end();
      return { url, stop: async () => {} };
    } catch {
      await c.end().catch(() => {});
    }
  }
  const dir = await mkdtemp(join(tmpdir(), "plfm-bench-pg-"));
  await chmod(dir, 0o755);
  const handle: EmbeddedPostgresHandle = await startEmbeddedPostgres({ dataDir: join(dir, "pg") });
  return {
    url: handle.url,
    stop: async () => {
      await handle.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `workers` loops of `op` for `ms`; returns completed units per second (`op` returns its units). */
export async function throughput(workers: number, ms: number, op: (worker: number) => Promise<number>) {
  const until = performance.now() + ms;
  let count = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (performance.now() < until) {
        // Not `count += await op(w)`: that reads `count` before the await, so
        // concurrent workers would overwrite each other's increments.
        const units = await op(w);
        count += units;
      }
    }),
  );
  return count / ((performance.now() - t0) / 1000);
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** One JSON line on stdout (the result), a readable table on stderr. */
export function report(results: Record<string, number | string | boolean>): void {
  for (const [k, v] of Object.entries(results)) console.error(`${k.padEnd(36)} ${v}`);
  console.log(JSON.stringify(results));
}
