import type { RouteContext } from "../http/route.ts";
import type { Ctx } from "./command-kit.ts";

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

export { written } from "../http/route.ts";
