import type { BoundedContext } from "../context.ts";
import { envSchedulingProjection } from "./projections.ts";
import { registerWhyRoutes } from "./why-routes.ts";
import { runScheduler } from "./worker.ts";

/**
 * The scheduler (spec platform.md §6): placement and reconciliation run as a
 * leader-leased worker; its tables are scheduler_status (what the last pass
 * concluded, for env status and `why`), instance_addresses (IPAM) and the
 * env_scheduling view.
 */
export const scheduler: BoundedContext = {
  name: "scheduler",
  migrations: new URL("./migrations", import.meta.url).pathname,
  projections: [envSchedulingProjection],
  registerRoutes: registerWhyRoutes,
  // The scheduler itself: a leader task (it decides for the whole cluster).
  leaderTasks: (deps) =>
    deps.scheduler
      ? [
          (signal) =>
            runScheduler(
              {
                pool: deps.pool,
                kernel: deps.kernel,
                now: deps.now,
                log: deps.log ?? { info: () => {}, warn: () => {} },
                ...(deps.scheduler?.tickMs !== undefined ? { tickMs: deps.scheduler.tickMs } : {}),
                ...(deps.scheduler?.heartbeatTimeoutMs !== undefined
                  ? { heartbeatTimeoutMs: deps.scheduler.heartbeatTimeoutMs }
                  : {}),
              },
              signal,
            ),
        ]
      : [],
};
