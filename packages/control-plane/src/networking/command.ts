// What every networking command shares: its transaction (retried whole on a
// concurrent writer), the env check, the locks, and the audit record.
//
// Lock order, always: the env's parent lock (apps, shared) → this env's
// networking lock → a listen port's lock → quota locks (tenancy's
// checkQuota) → the IPv4 pool's lock. Taking them in one order everywhere is
// what keeps two commands from deadlocking.
import {
  type CommandMeta,
  type CommandResult,
  findReplay,
  type IdempotencyRequest,
  KernelError,
  type Pool,
  type PoolClient,
  type Position,
  type Queryable,
  runInTransaction,
} from "@plfm/kernel";
import { appNameScope, envNameScope, lockParent } from "../apps/guards.ts";
import type { Principal } from "../auth/principal.ts";
import { type AuditLogger, recordAudit } from "../tenancy/audit.ts";
import type { RouteOwner } from "./route.ts";

export interface CommandOutcome<R> {
  response: R;
  position: Position | null;
  replayed: boolean;
}

/** What a networking command gets from its HTTP route. */
export interface NetCtx {
  pool: Pool;
  principal: Principal;
  owner: RouteOwner;
  idempotency: IdempotencyRequest | null;
  requestId: string;
  now: Date;
  log: AuditLogger;
}

export const fixedClock = (at: Date) => ({ now: () => at });
export const metaOf = (ctx: NetCtx): CommandMeta => ({
  actorType: ctx.principal.type,
  actorId: ctx.principal.id,
  requestId: ctx.requestId,
});

// pg_advisory_xact_lock(int, int) keys live apart from the kernel's
// single-bigint lease keys; the classes say "networking" ('pln…').
const ENV_LOCK_CLASS = 0x706c6e31;
const PORT_LOCK_CLASS = 0x706c6e32;
const POOL_LOCK_CLASS = 0x706c6e33;

/** Serialises the networking commands of one env (IPv4 on/off against ipv4_required routes). */
export async function lockEnvNetworking(client: Queryable, envId: string): Promise<void> {
  await client.query("SELECT pg_advisory_xact_lock($1::int, hashtext($2))", [ENV_LOCK_CLASS, envId]);
}

/** Serialises the routes taking one listen port, across every env. */
export async function lockPort(client: Queryable, port: number): Promise<void> {
  await client.query("SELECT pg_advisory_xact_lock($1::int, $2::int)", [PORT_LOCK_CLASS, port]);
}

/** Serialises IPv4 allocations (rare; the unique index is the backstop). */
export async function lockIpv4Pool(client: Queryable): Promise<void> {
  await client.query("SELECT pg_advisory_xact_lock($1::int, 0)", [POOL_LOCK_CLASS]);
}

/**
 * Whether the env of `owner` is live: its app claims its name in the org and
 * the env in the app (the apps context's name claims: command side, so never
 * behind the log, and released in the delete's transaction). Until the apps
 * context is mounted (no `envs` table) every env counts as live.
 * TODO(apps): drop the fallback once apps is always mounted.
 */
export async function envIsLive(db: Queryable, owner: RouteOwner): Promise<boolean> {
  const { rows } = await db.query<{ live: boolean }>(
    `SELECT to_regclass('envs') IS NULL
         OR (EXISTS (SELECT 1 FROM name_claims WHERE scope = $1 AND owner_id = $2)
             AND EXISTS (SELECT 1 FROM name_claims WHERE scope = $3 AND owner_id = $4)) AS live`,
    [appNameScope(owner.orgId), owner.appId, envNameScope(owner.appId), owner.envId],
  );
  return rows[0]?.live === true;
}

export const envNotFound = () => new KernelError("not_found", "No such env in this app and organisation.");

/** Creating a child of the env (a route, an IPv4 address): hold off its deletion, and check it is live. */
export async function lockLiveEnv(client: Queryable, owner: RouteOwner): Promise<void> {
  await lockParent(client, "env", owner.envId, "share");
  if (!(await envIsLive(client, owner))) throw envNotFound();
}

/** Whether the env holds an IPv4 address now (command side). */
export async function envHasIpv4(client: Queryable, envId: string): Promise<boolean> {
  const { rows } = await client.query(
    "SELECT 1 FROM ipv4_allocations WHERE env_id = $1 AND released_at IS NULL",
    [envId],
  );
  return rows.length > 0;
}

/** The audit row and line of a networking change (spec §4.5: route CRUD, IPv4 changes). */
export async function audit(
  client: PoolClient,
  ctx: NetCtx,
  action: string,
  target: { type: string; id: string },
  details: Record<string, unknown>,
): Promise<void> {
  await recordAudit(
    client,
    {
      org_id: ctx.owner.orgId,
      actor_type: ctx.principal.type,
      actor_id: ctx.principal.id,
      action,
      target_type: target.type,
      target_id: target.id,
      request_id: ctx.requestId,
      details: { app_id: ctx.owner.appId, env_id: ctx.owner.envId, ...details },
    },
    ctx.log,
  );
}

/**
 * A same-key twin that committed while we waited for the env's lock: its
 * record, looked up before any check (a quota now full, say) could refuse
 * the replay. handleCommand looks again before it decides.
 */
export async function replayUnderLock<R>(client: PoolClient, ctx: NetCtx): Promise<CommandResult<R> | null> {
  if (!ctx.idempotency) return null;
  const replay = await findReplay(client, ctx.idempotency);
  return replay ? { replayed: true, response: replay.response as R, position: replay.position } : null;
}

/**
 * Runs one command's transaction. A `version_conflict` from the append (a
 * concurrent writer on the aggregate; retryable) reruns the whole
 * transaction from fresh state; one from a decision (a stale
 * expected_version) goes back to the client. Same-key twins serialise on the
 * env's networking lock, and the command's own `handleCommand` finds the
 * first one's record after it.
 */
export function runCommand<R>(
  ctx: NetCtx,
  body: (client: PoolClient) => Promise<CommandResult<R>>,
): Promise<CommandOutcome<R>> {
  return runInTransaction(ctx.pool, ctx.idempotency, body);
}
