// Request schemas and helpers shared by the tenancy routes.
import { Type } from "typebox";
import { idSchema } from "../http/ids.ts";
import type { RouteContext } from "../http/route.ts";
import type { AuditLogger } from "./audit.ts";
import type { CommandEnv } from "./commands.ts";

/** Names of orgs, projects, apps, envs (spec platform.md §2.1). */
export const Name = Type.String({ pattern: "^[a-z][a-z0-9-]*$", minLength: 1, maxLength: 63 });
export const Email = Type.String({ pattern: "^[^@\\s]+@[^@\\s]+$", maxLength: 254 });
export const OrgId = idSchema("org");
export const MemberId = idSchema("mem");
export const ProjectId = idSchema("prj");
export const ExpectedVersion = Type.Integer({ minimum: 0 });
export const Timestamp = Type.String({ format: "date-time" });

export const OrgParams = Type.Object({ org: OrgId }, { additionalProperties: false });

/** `{items, next_cursor}` of `item`. */
export const PageOf = (item: Parameters<typeof Type.Array>[0]) =>
  Type.Object({ items: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()]) });

/** A command's environment from a route's context. */
export function commandEnv(ctx: RouteContext<unknown, unknown, unknown>, log: AuditLogger): CommandEnv {
  return {
    pool: ctx.deps.pool,
    principal: ctx.principal,
    idempotency: ctx.idempotency,
    requestId: ctx.requestId,
    now: ctx.deps.now(),
    log,
  };
}
