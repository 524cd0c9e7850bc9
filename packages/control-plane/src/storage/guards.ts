// What the storage commands check against other contexts' tables (apps,
// nodes), and the locks that serialise commands on one volume. Other
// contexts' tables are queried only when they exist at run time, so storage
// works before those contexts are mounted.
import { KernelError, type Queryable } from "@plfm/kernel";
import { appNameScope, envNameScope } from "../apps/guards.ts";
import type { EnvRef } from "./attachment.ts";

async function tableExists(db: Queryable, table: string): Promise<boolean> {
  const { rows } = await db.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [table]);
  return rows[0]?.t != null;
}

/**
 * Whether the env is live in that app and org. Read from the apps context's
 * name claims (command side, released in the env delete's transaction, so
 * never behind the log, unlike the `envs` view), and only once the apps
 * context is mounted: without an `envs` table every env counts as live.
 * TODO(apps): drop the fallback once apps is always mounted.
 */
export async function envIsLive(db: Queryable, env: EnvRef): Promise<boolean> {
  if (!(await tableExists(db, "envs"))) return true;
  const { rows } = await db.query<{ live: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM name_claims WHERE scope = $1 AND owner_id = $2)
        AND EXISTS (SELECT 1 FROM name_claims WHERE scope = $3 AND owner_id = $4) AS live`,
    [appNameScope(env.orgId), env.appId, envNameScope(env.appId), env.envId],
  );
  return rows[0]?.live === true;
}

export const envNotFound = () => new KernelError("not_found", "No such env in this app and organisation.");

/**
 * The desired replicas of an env's process type, from the apps context's
 * `env_scale` view when it exists (null: never scaled, or no such view).
 */
export async function desiredReplicas(
  db: Queryable,
  envId: string,
  processType: string,
): Promise<number | null> {
  if (!(await tableExists(db, "env_scale"))) return null;
  const { rows } = await db.query<{ desired: number | null }>(
    `SELECT (x->>'desired')::int AS desired
       FROM env_scale, jsonb_array_elements(processes) x
      WHERE env_id = $1 AND NOT is_deleted AND x->>'process_type' = $2`,
    [envId, processType],
  );
  return rows[0]?.desired ?? null;
}

/**
 * Nodes come from the fleet context, which does not exist yet. Assumed shape
 * of its view: `nodes(node_id text, state text, roles text[])`.
 * TODO(fleet): check these columns against the nodes projection when it lands.
 */
const ELIGIBLE_NODE = "state = 'active' AND 'worker' = ANY(roles)";

/**
 * The home node for a new volume when none is given: the active worker with
 * the smallest id (§10.1 prefers the most free pool space; pool space is not
 * reported yet). Null when no node qualifies, or there is no `nodes` view.
 * TODO(fleet): order by free pool space, then node_id, once nodes report it.
 */
export async function pickHomeNode(db: Queryable): Promise<string | null> {
  if (!(await tableExists(db, "nodes"))) return null;
  const { rows } = await db.query<{ node_id: string }>(
    `SELECT node_id FROM nodes WHERE ${ELIGIBLE_NODE} ORDER BY node_id LIMIT 1`,
  );
  return rows[0]?.node_id ?? null;
}

/**
 * Whether a node named in a request may hold volumes: an active worker. With
 * no `nodes` view yet every well-formed id is accepted (TODO(fleet)).
 */
export async function nodeIsEligible(db: Queryable, nodeId: string): Promise<boolean> {
  if (!(await tableExists(db, "nodes"))) return true;
  const { rows } = await db.query(`SELECT 1 FROM nodes WHERE node_id = $1 AND ${ELIGIBLE_NODE}`, [nodeId]);
  return rows.length > 0;
}

/** 400 on `field` for a node that is not an active worker. */
export const nodeNotEligible = (field: string) =>
  new KernelError("invalid_argument", "That node is not an active worker.", {
    details: [{ field, code: "node_not_eligible", message: "not an active worker node" }],
  });

// pg_advisory_xact_lock(int, int) class of the storage locks ('pls1'), apart
// from the kernel's leases and other contexts' classes.
const VOLUME_LOCK_CLASS = 0x706c7331;

/**
 * Serialises the commands on one volume (delete, attach, snapshot): each
 * re-reads the volume and its claims after taking it. Transaction-scoped.
 * Lock order, always: the env's parent lock (apps) → the env's process type
 * (lockProcessMounts) → the volume → quotas.
 */
export async function lockVolume(client: Queryable, volumeId: string): Promise<void> {
  await client.query("SELECT pg_advisory_xact_lock($1::int, hashtext($2))", [VOLUME_LOCK_CLASS, volumeId]);
}

/**
 * Serialises the attaches to one process type of an env, so that "one home
 * node per (env, process)" is checked against every other attachment of it.
 */
export async function lockProcessMounts(
  client: Queryable,
  envId: string,
  processType: string,
): Promise<void> {
  await client.query("SELECT pg_advisory_xact_lock($1::int, hashtext($2))", [
    VOLUME_LOCK_CLASS,
    `process:${envId}:${processType}`,
  ]);
}
