// The scheduler as a leader task (spec platform.md §6.3): a pass right after
// the events that matter, at most one at a time (wake-ups during a pass
// coalesce into one more), and a periodic pass as a safety net (timeouts,
// silent nodes, anything a lost wake-up missed). Before each pass it waits
// for the views it reads to include everything committed so far, its own
// last writes included, so it never decides on a view older than its writes.
import { headPosition, type KernelRuntime, type Pool } from "@plfm/kernel";
import { type PassResult, runPass } from "./pass.ts";
import { DEFAULT_SETTINGS } from "./placement/types.ts";

/** Event types that change what some group wants or has (§6.3 "immediate run after …"). */
export const SCHEDULER_WAKE_EVENTS = [
  "env.desired_release_set",
  "env.scale_set",
  "env.deleted",
  "deploy.created",
  "secret_bundle.version_set",
  "volume_attachment.created",
  "volume_attachment.deleted",
  "volume.state_changed",
  "node.enrolled",
  "node.state_changed",
  "node.capacity_updated",
  "node.revoked",
  "instance.status_changed",
  "instance.desired_state_changed",
];

/** The views a pass reads. */
export const SCHEDULER_VIEWS = [
  "nodes",
  "instances",
  "env_desired_releases",
  "env_scale",
  "envs",
  "releases",
  "deploys",
  "secret_bundles",
  "volumes",
  "volume_attachments",
];

export interface SchedulerOptions {
  pool: Pool;
  kernel: KernelRuntime;
  now: () => Date;
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /** The safety-net period (spec: 5 s tick). */
  tickMs?: number;
  /** Silence after which a node is offline (spec: 45 s). */
  heartbeatTimeoutMs?: number;
  /** Called after each pass (tests, metrics). */
  onPass?: (r: PassResult) => void;
}

/** Runs passes until `signal` aborts. */
export async function runScheduler(options: SchedulerOptions, signal: AbortSignal): Promise<void> {
  const { pool, kernel } = options;
  const tickMs = options.tickMs ?? 5000;
  let wake: (() => void) | null = null;
  let pending = true;
  const poke = () => {
    pending = true;
    wake?.();
  };
  const sub = kernel.hub.subscribe({
    after: await headPosition(pool),
    filter: { eventTypes: SCHEDULER_WAKE_EVENTS },
  });
  const feed = (async () => {
    for await (const msg of sub) if (msg.type === "event") poke();
  })().catch(() => {});
  const timer = setInterval(poke, tickMs);
  signal.addEventListener("abort", poke);
  options.log.info({ tick_ms: tickMs }, "scheduler started");
  try {
    while (!signal.aborted) {
      if (!pending) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = null;
        continue;
      }
      pending = false;
      try {
        await kernel.watcher.waitFor(await headPosition(pool), SCHEDULER_VIEWS, { timeoutMs: 30_000 });
        const r = await runPass({
          pool,
          now: options.now,
          log: options.log,
          ...(options.heartbeatTimeoutMs !== undefined
            ? { settings: { ...DEFAULT_SETTINGS, heartbeat_timeout_ms: options.heartbeatTimeoutMs } }
            : {}),
        });
        options.onPass?.(r);
        if (r.allocated + r.drained + r.stopped > 0) {
          options.log.info({ ...r, position: undefined }, "scheduler pass");
        }
      } catch (err) {
        if (signal.aborted) break;
        options.log.warn({ err }, "scheduler pass failed; retrying at the next tick");
      }
    }
  } finally {
    clearInterval(timer);
    signal.removeEventListener("abort", poke);
    await sub.close();
    await feed;
  }
}
