// Quota usage the scheduler owns (spec platform.md §6.4): instances whose
// desired state is not stopped (surge included), their memory with the
// per-instance overhead, and their CPU requests. Counted over the instances
// view, which the scheduler's own writes reach before its next pass.
import type { Queryable } from "@plfm/kernel";
import { DEFAULT_SETTINGS } from "./placement/types.ts";

const sum = async (db: Queryable, orgId: string, expr: string): Promise<number> => {
  const { rows } = await db.query<{ n: string | null }>(
    `SELECT ${expr} AS n FROM instances WHERE org_id = $1 AND desired_state <> 'stopped'`,
    [orgId],
  );
  return Number(rows[0]?.n ?? 0);
};

export const instanceUsage = (db: Queryable, orgId: string) => sum(db, orgId, "count(*)");

export const memoryUsage = (db: Queryable, orgId: string) =>
  sum(
    db,
    orgId,
    `coalesce(sum((resources_snapshot->>'memory_limit_bytes')::bigint + ${DEFAULT_SETTINGS.overhead_bytes}), 0)`,
  );

export const cpuUsage = (db: Queryable, orgId: string) =>
  sum(db, orgId, "coalesce(sum((resources_snapshot->>'cpu_request')::numeric), 0)");
