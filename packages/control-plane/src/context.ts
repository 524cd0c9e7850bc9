import type { LeaderTask, Projection } from "@plfm/kernel";
import type { FastifyInstance } from "fastify";
import type { RouteDeps } from "./http/route.ts";

/**
 * A bounded context of the control plane: its own folder with events, pure
 * decide/evolve, projections, routes and SQL migrations. The server mounts
 * every context listed in contexts.ts.
 */
export interface BoundedContext {
  /** Also the migration namespace (`control-plane/<name>/0001_….sql`). */
  name: string;
  /** Directory of numbered, forward-only `.sql` files (views and non-event tables). */
  migrations?: string;
  projections: readonly Projection[];
  registerRoutes(app: FastifyInstance, deps: RouteDeps): void;
  /** Singletons only the lease holder runs (the scheduler, say), started with the projections. */
  leaderTasks?(deps: RouteDeps): LeaderTask[];
}
