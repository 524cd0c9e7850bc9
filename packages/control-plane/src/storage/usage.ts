// Quota usage of the storage dimensions (spec platform.md §6.4), for
// tenancy/quotas.ts QUOTA_USAGE to use in place of its `notYetCounted`
// (that file is the tenancy context's; wiring these in is one line each).
// The first three count command-side rows written in the storage commands'
// transactions, so a count under checkQuota's lock is exact.
import type { Queryable } from "@plfm/kernel";

type Counter = (db: Queryable, orgId: string, within?: string) => Promise<number>;

const count =
  (sql: string): Counter =>
  async (db, orgId) => {
    const { rows } = await db.query<{ n: string | number }>(sql, [orgId]);
    return Number(rows[0]?.n ?? 0);
  };

export const STORAGE_USAGE = {
  /** Volumes not yet reported deleted (deleting ones still hold their space). */
  max_volumes: count("SELECT count(*) AS n FROM volume_claims WHERE org_id = $1"),
  max_total_volume_bytes: count(
    "SELECT coalesce(sum(size_bytes), 0) AS n FROM volume_claims WHERE org_id = $1",
  ),
  max_volume_attachments: count("SELECT count(*) AS n FROM volume_attachment_claims WHERE org_id = $1"),
  /**
   * Snapshots of the volume `within`, or of the org's busiest volume when no
   * volume is named (the quota list). From the view: snapshots are never deleted in v1.
   */
  max_snapshots_per_volume: async (db, orgId, within) => {
    const { rows } = await db.query<{ n: string | null }>(
      `SELECT max(n) AS n FROM (SELECT count(*) AS n FROM snapshots
        WHERE org_id = $1 AND ($2::text IS NULL OR volume_id = $2) GROUP BY volume_id) c`,
      [orgId, within ?? null],
    );
    return Number(rows[0]?.n ?? 0);
  },
  /** Queued or running restore jobs (from the view). */
  max_restore_jobs: count(
    "SELECT count(*) AS n FROM restore_jobs WHERE org_id = $1 AND status IN ('queued', 'running')",
  ),
} as const satisfies Record<string, Counter>;
