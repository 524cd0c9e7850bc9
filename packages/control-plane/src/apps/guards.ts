// Checks the app and env commands make against other aggregates and other
// contexts' tables, and the locks that make "refused while children exist"
// hold under concurrency.
import type { Queryable } from "@plfm/kernel";
import { CLAIM_SCOPE } from "../tenancy/claims.ts";
import { desiredProcessTypes } from "./desired.ts";

/**
 * Serialises a parent's deletion against the creation of its children.
 * Creating a child takes the parent's lock shared (`"share"`), deleting the
 * parent takes it exclusive; both then re-read state in the same transaction.
 * Without it, an env created while its app is being deleted (or a route while
 * its env is) could both commit, leaving a child under a deleted parent.
 * Other contexts creating env children (routes, attachments, IPv4) call
 * `lockParent(client, "env", envId, "share")` in their command's transaction;
 * deleting a project takes `lockParent(client, "project", projectId,
 * "exclusive")` before {@link projectHasApps}, as app commands joining a
 * project take it shared.
 * Transaction-scoped: released at COMMIT/ROLLBACK.
 */
export async function lockParent(
  client: Queryable,
  kind: "app" | "env" | "project",
  id: string,
  mode: "share" | "exclusive",
): Promise<void> {
  const fn = mode === "share" ? "pg_advisory_xact_lock_shared" : "pg_advisory_xact_lock";
  await client.query(`SELECT ${fn}(hashtextextended($1, 0))`, [`plfm:${kind}:${id}`]);
}

/** Live envs of an app, from the name claims (command side, so never behind the log). */
export async function countLiveEnvs(client: Queryable, appId: string): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM name_claims WHERE scope = $1",
    [envNameScope(appId)],
  );
  return rows[0]?.n ?? 0;
}

export const appNameScope = (orgId: string) => `app:${orgId}`;
export const envNameScope = (appId: string) => `env:${appId}`;

async function tableExists(db: Queryable, table: string): Promise<boolean> {
  const { rows } = await db.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [table]);
  return rows[0]?.t != null;
}

/**
 * What still hangs off an env and blocks its deletion: "routes",
 * "volume attachments", "an IPv4 address", or null. Routes and IPv4 are read
 * from the networking context's command-side tables (`route_claims`,
 * `ipv4_allocations`), written in the transactions that create them, which
 * take `lockParent(…, "env", envId, "share")`: under the exclusive lock the
 * answer is exact. Attachments are read from the storage context's
 * `volume_attachments` view (env_id, is_deleted) until it has a command-side
 * table; that context does not exist yet. Each table is queried only when it
 * exists, so this context works without the others mounted.
 */
export async function envDeletionBlocker(db: Queryable, envId: string): Promise<string | null> {
  const checks: [string, string, string][] = [
    ["route_claims", "SELECT 1 FROM route_claims WHERE env_id = $1 LIMIT 1", "routes"],
    [
      // The storage context's command-side claims: written with the attachment's
      // events, so an attachment made a moment ago counts (the view may lag).
      "volume_attachment_claims",
      "SELECT 1 FROM volume_attachment_claims WHERE env_id = $1 LIMIT 1",
      "volume attachments",
    ],
    [
      "ipv4_allocations",
      "SELECT 1 FROM ipv4_allocations WHERE env_id = $1 AND released_at IS NULL LIMIT 1",
      "an IPv4 address",
    ],
  ];
  for (const [table, sql, what] of checks) {
    if (!(await tableExists(db, table))) continue;
    const { rows } = await db.query(sql, [envId]);
    if (rows.length > 0) return what;
  }
  return null;
}

/**
 * Whether `projectId` is a live project of `orgId`, from the tenancy
 * context's command-side name claim (written with `project.created`, removed
 * with `project.deleted`), so a project created a moment ago counts and one
 * being deleted does not. Call under the project's shared lock.
 */
export async function projectInOrg(db: Queryable, orgId: string, projectId: string): Promise<boolean> {
  const { rows } = await db.query("SELECT 1 FROM name_claims WHERE scope = $1 AND owner_id = $2", [
    CLAIM_SCOPE.project(orgId),
    projectId,
  ]);
  return rows.length > 0;
}

/**
 * Whether any live app is in the project: the command-side answer the
 * tenancy context's project delete needs (its `projectInUse`). Exact under
 * `lockParent(client, "project", projectId, "exclusive")`.
 */
export async function projectHasApps(db: Queryable, projectId: string): Promise<boolean> {
  const { rows } = await db.query("SELECT 1 FROM app_project_refs WHERE project_id = $1 LIMIT 1", [
    projectId,
  ]);
  return rows.length > 0;
}

/**
 * Quota usage counters for tenancy's QUOTA_USAGE (`max_apps`, `max_envs`),
 * from the name claims the app and env commands write in their transactions,
 * so a count under checkQuota's lock is exact.
 */
export async function appUsage(db: Queryable, orgId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM name_claims WHERE scope = $1",
    [appNameScope(orgId)],
  );
  return rows[0]?.n ?? 0;
}

export async function envUsage(db: Queryable, orgId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM name_claims a
       JOIN name_claims e ON e.scope = 'env:' || a.owner_id
      WHERE a.scope = $1`,
    [appNameScope(orgId)],
  );
  return rows[0]?.n ?? 0;
}

/**
 * The hook for compliance item 35 (PUT scale with an unknown process type →
 * 400 invalid_argument): returns those of `processTypes` that none of the
 * env's desired releases defines (see {@link desiredProcessTypes}, read from
 * the log so a deploy just made counts). An env never deployed has no release
 * to check against, so nothing is unknown there and any name matching the
 * schema's pattern is accepted (the scheduler ignores process types without a
 * desired release).
 */
export async function unknownProcessTypes(
  db: Queryable,
  env: { orgId: string; appId: string; envId: string },
  processTypes: readonly string[],
): Promise<string[]> {
  const known = await desiredProcessTypes(db, env.envId);
  if (known === null) return [];
  return processTypes.filter((t) => !known.has(t));
}
