import type { RouteContext, RouteResult } from "../http/route.ts";
import type { CommandOutcome, Ctx } from "./command-kit.ts";

/** The command context of a request under `/orgs/:org`. */
export function commandCtx(ctx: RouteContext<unknown, { org: string }, unknown>): Ctx {
  return {
    pool: ctx.deps.pool,
    principal: ctx.principal,
    orgId: ctx.params.org,
    idempotency: ctx.idempotency,
    requestId: ctx.requestId,
    now: ctx.deps.now(),
  };
}

/** A write's answer: the body (204 when null), sent once `projections` have caught up. */
export function written<R>(
  status: number,
  r: CommandOutcome<R>,
  projections: readonly string[],
): RouteResult {
  return {
    status: r.response === null ? 204 : status,
    ...(r.response === null ? {} : { body: r.response }),
    replayed: r.replayed,
    wait: { position: r.position, projections },
  };
}
