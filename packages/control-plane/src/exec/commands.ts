// The exec commands' I/O: grant (lock the org, check the instance and the
// rate limits, append, store the token's hash, audit), connect (consume the
// token and append in one transaction) and end. Each runs in one transaction,
// so a refused step leaves neither an event nor a token row behind.
import {
  type CommandMeta,
  findReplay,
  handleCommand,
  type IdempotencyRequest,
  KernelError,
  newId,
  type Pool,
  type Position,
  type Queryable,
  runInTransaction,
} from "@plfm/kernel";
import type { Principal } from "../auth/principal.ts";
import { hashToken, newToken } from "../auth/tokens.ts";
import { type AuditLogger, recordAudit } from "../tenancy/audit.ts";
import {
  decideConnect,
  decideEnd,
  decideGrant,
  type EndReason,
  EXEC_SESSION,
  type ExecSessionState,
  execSessionAggregate,
} from "./exec-session.ts";
import { CONNECT_TIMEOUT, type ExecLimits, SESSION_TTL, TOKEN_TTL } from "./limits.ts";
import type { GrantBody } from "./schemas.ts";

export interface InstanceRef {
  orgId: string;
  appId: string;
  envId: string;
  instanceId: string;
}

export interface GrantCtx {
  pool: Pool;
  principal: Principal;
  idempotency: IdempotencyRequest | null;
  requestId: string;
  now: Date;
  log: AuditLogger;
  limits: ExecLimits;
}

/** What a grant stores for replays: everything but the token, which exists only in the first answer. */
export interface StoredGrant {
  session_id: string;
  connect_url: string;
  expires_in_seconds: number;
}

export const connectUrl = (id: string) => `/v1/exec-sessions/${id}/connect`;

// pg_advisory_xact_lock(int, int) class for exec ('ple1'): one org's grants
// serialise, so the concurrency and hourly counts cannot both pass a race.
const ORG_LOCK_CLASS = 0x706c6531;
const HOUR_MS = 3_600_000;
/** When a concurrency slot frees is unknown; clients retry after this. */
const CONCURRENCY_RETRY_SECONDS = 5;

/** A live session's row: not ended, and still able to become (or be) a connection. */
const LIVE = `ended_at IS NULL AND ((used_at IS NULL AND expires_at > $2) OR (used_at IS NOT NULL AND session_expires_at > $2))`;

const rateLimited = (why: string, seconds: number) =>
  new KernelError("rate_limited", why, { extra: { retry_after_seconds: seconds } });

async function checkRateLimits(db: Queryable, ref: InstanceRef, now: Date, limits: ExecLimits) {
  const { rows } = await db.query<{ env_live: number; inst_live: number; hour: number; oldest: Date | null }>(
    `SELECT (SELECT count(*)::int FROM exec_session_tokens WHERE env_id = $1 AND ${LIVE}) AS env_live,
            (SELECT count(*)::int FROM exec_session_tokens WHERE instance_id = $3 AND ${LIVE}) AS inst_live,
            (SELECT count(*)::int FROM exec_session_tokens WHERE org_id = $4 AND created_at > $5) AS hour,
            (SELECT min(created_at) FROM exec_session_tokens WHERE org_id = $4 AND created_at > $5) AS oldest`,
    [ref.envId, now, ref.instanceId, ref.orgId, new Date(now.getTime() - HOUR_MS)],
  );
  const r = rows[0];
  if (!r) return;
  if (r.inst_live >= limits.perInstance)
    throw rateLimited(`At most ${limits.perInstance} exec sessions per instance.`, CONCURRENCY_RETRY_SECONDS);
  if (r.env_live >= limits.perEnv)
    throw rateLimited(`At most ${limits.perEnv} exec sessions per env.`, CONCURRENCY_RETRY_SECONDS);
  if (r.hour >= limits.perOrgHour) {
    const freeAt = (r.oldest?.getTime() ?? now.getTime()) + HOUR_MS;
    throw rateLimited(
      `At most ${limits.perOrgHour} exec grants per organisation per hour.`,
      Math.max(1, Math.ceil((freeAt - now.getTime()) / 1000)),
    );
  }
}

/** 404 when the instance is not in the env; 409 instance_not_running unless it is ready. */
async function readyInstanceNode(db: Queryable, ref: InstanceRef): Promise<string> {
  const { rows } = await db.query<{ node_id: string; status: string }>(
    `SELECT node_id, status FROM instances
      WHERE instance_id = $1 AND env_id = $2 AND app_id = $3 AND org_id = $4`,
    [ref.instanceId, ref.envId, ref.appId, ref.orgId],
  );
  const row = rows[0];
  if (!row) throw new KernelError("not_found", "No such instance in this env.");
  if (row.status !== "ready") {
    throw new KernelError("instance_not_running", `The instance is ${row.status}; exec needs it ready.`);
  }
  return row.node_id;
}

export interface GrantOutcome {
  response: StoredGrant;
  /** Null on a replay: the token was handed out once and only its hash is kept. */
  token: string | null;
  position: Position | null;
  tokenExpiresAt: Date;
}

/** Grants a session on a ready instance (spec §7.8). */
export async function grantExec(ctx: GrantCtx, ref: InstanceRef, body: GrantBody): Promise<GrantOutcome> {
  const sessionId = newId("exec");
  const now = ctx.now;
  const tokenTtl = body.token_ttl_seconds ?? TOKEN_TTL.default;
  const tokenExpiresAt = new Date(now.getTime() + tokenTtl * 1000);
  const expiresAt = new Date(now.getTime() + (body.session_ttl_seconds ?? SESSION_TTL.default) * 1000);
  const connectTimeoutSeconds = body.connect_timeout_seconds ?? CONNECT_TIMEOUT.default;
  const meta: CommandMeta = {
    actorType: ctx.principal.type,
    actorId: ctx.principal.id,
    requestId: ctx.requestId,
  };
  let token: string | null = null;
  const r = await runInTransaction<StoredGrant>(ctx.pool, ctx.idempotency, async (client) => {
    token = null;
    await client.query("SELECT pg_advisory_xact_lock($1::int, hashtext($2))", [ORG_LOCK_CLASS, ref.orgId]);
    if (ctx.idempotency) {
      // A same-key twin that committed while we waited for the lock answers first.
      const replay = await findReplay(client, ctx.idempotency);
      if (replay)
        return { replayed: true, response: replay.response as StoredGrant, position: replay.position };
    }
    const nodeId = await readyInstanceNode(client, ref);
    await checkRateLimits(client, ref, now, ctx.limits);
    const stored: StoredGrant = {
      session_id: sessionId,
      connect_url: connectUrl(sessionId),
      expires_in_seconds: tokenTtl,
    };
    const result = await handleCommand(client, {
      aggregate: execSessionAggregate,
      aggregateId: sessionId,
      meta,
      clock: { now: () => now },
      maxAttempts: 1,
      ...(ctx.idempotency ? { idempotency: ctx.idempotency } : {}),
      decide: (s) => ({
        events: decideGrant(s, sessionId, {
          ...ref,
          nodeId,
          command: body.command,
          tty: body.tty,
          expiresAt,
          tokenExpiresAt,
          connectTimeoutSeconds,
        }),
        response: stored,
      }),
    });
    if (result.replayed) return result;
    const fresh = newToken("exec");
    await client.query(
      `INSERT INTO exec_session_tokens (token_hash, session_id, org_id, env_id, instance_id, node_id,
              created_at, expires_at, session_expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        hashToken(fresh),
        sessionId,
        ref.orgId,
        ref.envId,
        ref.instanceId,
        nodeId,
        now,
        tokenExpiresAt,
        expiresAt,
      ],
    );
    await recordAudit(
      client,
      {
        org_id: ref.orgId,
        actor_type: ctx.principal.type,
        actor_id: ctx.principal.id,
        action: "exec_session.granted",
        target_type: EXEC_SESSION,
        target_id: sessionId,
        request_id: ctx.requestId,
        details: {
          app_id: ref.appId,
          env_id: ref.envId,
          instance_id: ref.instanceId,
          node_id: nodeId,
          command: body.command,
          tty: body.tty,
        },
      },
      ctx.log,
    );
    token = fresh;
    return result;
  });
  return { response: r.response, token: r.replayed ? null : token, position: r.position, tokenExpiresAt };
}

/** The session as the relay needs it once the token is consumed. */
export type ConnectedSession = ExecSessionState & { sessionId: string };

const relayMeta = (requestId: string): CommandMeta => ({
  actorType: "system",
  actorId: "exec-relay",
  requestId,
});

/**
 * Consumes the token and appends exec_session.connected in one transaction:
 * of two connects with one token exactly one updates the row (used_at IS
 * NULL), and a failed append gives the token back. `onConnected` runs inside
 * the transaction, before COMMIT, so the relay knows the session before any
 * plan stream can tell an agent about it.
 * @throws KernelError invalid_token for an unknown, used, expired or ended token.
 */
export async function consumeToken(
  pool: Pool,
  sessionId: string,
  token: string,
  now: Date,
  requestId: string,
  onConnected: (s: ConnectedSession) => void,
): Promise<ConnectedSession> {
  const r = await runInTransaction<ConnectedSession>(pool, null, async (client) => {
    const { rowCount } = await client.query(
      `UPDATE exec_session_tokens SET used_at = $3
        WHERE token_hash = $1 AND session_id = $2 AND used_at IS NULL AND ended_at IS NULL AND expires_at > $3`,
      [hashToken(token), sessionId, now],
    );
    if (rowCount !== 1) throw new KernelError("invalid_token", "The session token is not valid.");
    const result = await handleCommand(client, {
      aggregate: execSessionAggregate,
      aggregateId: sessionId,
      meta: relayMeta(requestId),
      clock: { now: () => now },
      // A concurrent writer aborts this transaction; runInTransaction reruns it whole.
      maxAttempts: 1,
      decide: (s) => ({
        events: decideConnect(s, sessionId, now),
        response: { ...s, status: "connected" as const, sessionId },
      }),
    });
    onConnected(result.response);
    return result;
  });
  return r.response;
}

export interface EndResult {
  ended: boolean;
  position: Position | null;
}

/**
 * Ends a session once: the ended event and the token row's ended_at in one
 * transaction. Ending an ended session appends nothing and answers false.
 */
export async function endSession(
  pool: Pool,
  sessionId: string,
  exitCode: number | null,
  reason: EndReason,
  now: Date,
  meta: CommandMeta,
): Promise<EndResult> {
  const r = await runInTransaction<boolean>(pool, null, async (client) => {
    const result = await handleCommand(client, {
      aggregate: execSessionAggregate,
      aggregateId: sessionId,
      meta,
      clock: { now: () => now },
      // Two ends racing: the loser's rerun (runInTransaction) finds the session ended.
      maxAttempts: 1,
      decide: (s) => {
        const events = decideEnd(s, sessionId, now, exitCode, reason);
        return { events, response: events.length > 0 };
      },
    });
    if (!result.replayed && result.response) {
      await client.query("UPDATE exec_session_tokens SET ended_at = $2 WHERE session_id = $1", [
        sessionId,
        now,
      ]);
    }
    return result;
  });
  return { ended: r.response, position: r.position };
}

export { relayMeta };
