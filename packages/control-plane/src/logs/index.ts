import type { BoundedContext } from "../context.ts";
import { runLogRetention } from "./retention.ts";
import { registerLogRoutes } from "./routes.ts";

/**
 * Workload logs (spec platform.md §7.7): node agents post batches, tenants
 * read an env's lines by window, by cursor, or as a stream. Logs are not
 * events: they live in `workload_logs` only, for 7 days.
 */
export const logs: BoundedContext = {
  name: "logs",
  migrations: new URL("./migrations", import.meta.url).pathname,
  projections: [],
  registerRoutes: registerLogRoutes,
  leaderTasks: (deps) => [
    (signal) =>
      runLogRetention(
        { pool: deps.pool, now: deps.now, logger: deps.log ?? { info: () => {}, warn: () => {} } },
        signal,
      ),
  ],
};
