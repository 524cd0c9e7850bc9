// Quota usage of the networking dimensions (spec platform.md §6.4), counted
// over the command-side rows the networking commands write in their own
// transactions, so a count under checkQuota's lock is exact. Imports nothing
// of tenancy: tenancy/quotas.ts may import these without a cycle.
import type { Queryable } from "@plfm/kernel";

async function count(db: Queryable, sql: string, orgId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(sql, [orgId]);
  return rows[0]?.n ?? 0;
}

/** max_routes: the org's live routes. */
export const routeUsage = (db: Queryable, orgId: string) =>
  count(db, "SELECT count(*)::int AS n FROM route_claims WHERE org_id = $1", orgId);

/** max_public_ports: the org's live routes on a port other than 443 (spec §8.3). */
export const publicPortUsage = (db: Queryable, orgId: string) =>
  count(db, "SELECT count(*)::int AS n FROM route_claims WHERE org_id = $1 AND listen_port <> 443", orgId);

/** max_hostnames: one hostname per live route (hostnames are globally unique). */
export const hostnameUsage = routeUsage;

/** max_ipv4_allocations: the org's envs holding an IPv4 address. */
export const ipv4Usage = (db: Queryable, orgId: string) =>
  count(
    db,
    "SELECT count(*)::int AS n FROM ipv4_allocations WHERE org_id = $1 AND released_at IS NULL",
    orgId,
  );
