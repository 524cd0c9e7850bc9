// The member commands' I/O. Every membership change of one org runs under
// that org's membership lock (a transaction-scoped advisory lock), so the
// owner count read for the last-owner rule cannot be changed by a concurrent
// command before ours commits; the lock also serialises same-key twins.
import {
  type AppendResult,
  append,
  evolvePending,
  findReplay,
  KernelError,
  loadAggregate,
  newId,
  type PoolClient,
  type Queryable,
  wakeReaders,
  withTransaction,
} from "@plfm/kernel";
import type { Role } from "../auth/scopes.ts";
import { userIdFor } from "../auth/tokens.ts";
import { type AuditEntry, recordAudit } from "./audit.ts";
import { CLAIM_SCOPE, claimName, releaseNames } from "./claims.ts";
import { addOwnerClaim, type CommandEnv, type CommandOutcome, clockOf, metaOf } from "./commands.ts";
import {
  decideAddMember,
  decideChangeRole,
  decideRemoveMember,
  type MembershipFacts,
  type MemberView,
  memberAggregate,
  memberView,
} from "./member.ts";
import { ORG_MEMBER } from "./org.ts";

// pg_advisory_xact_lock(int, int) keys live apart from the kernel's
// single-bigint lease keys; the class says "org membership" ('plm1').
const MEMBERSHIP_LOCK_CLASS = 0x706c6d31;

async function lockMembership(client: Queryable, orgId: string): Promise<void> {
  await client.query("SELECT pg_advisory_xact_lock($1::int, hashtext($2))", [MEMBERSHIP_LOCK_CLASS, orgId]);
}

async function ownerCount(client: Queryable, orgId: string): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM org_owner_claims WHERE org_id = $1",
    [orgId],
  );
  return rows[0]?.n ?? 0;
}

async function facts(client: Queryable, orgId: string, actorRole: Role | null): Promise<MembershipFacts> {
  return { actorRole, ownerCount: await ownerCount(client, orgId) };
}

function audit(
  env: CommandEnv,
  orgId: string,
  memberId: string,
  action: string,
  details: object,
): AuditEntry {
  return {
    org_id: orgId,
    actor_type: env.principal.type,
    actor_id: env.principal.id,
    action,
    target_type: ORG_MEMBER,
    target_id: memberId,
    request_id: env.requestId,
    details: { ...details },
  };
}

/**
 * Runs one membership command under the org's lock: a known idempotency key
 * answers its stored response; otherwise `run` decides and appends, and
 * `after` writes the command-side rows (claims, audit) only when it appended.
 */
async function underLock<R>(
  env: CommandEnv,
  orgId: string,
  run: (client: PoolClient) => Promise<{ result: AppendResult | null; response: R }>,
  after: (client: PoolClient) => Promise<void>,
): Promise<CommandOutcome<R>> {
  const outcome = await withTransaction(env.pool, async (client): Promise<CommandOutcome<R>> => {
    await lockMembership(client, orgId);
    if (env.idempotency) {
      const replay = await findReplay(client, env.idempotency);
      if (replay) return { response: replay.response as R, position: replay.position, replayed: true };
    }
    const { result, response } = await run(client);
    if (result === null) return { response, position: null, replayed: false };
    if (result.replayed) {
      return { response: result.response as R, position: result.position, replayed: true };
    }
    await after(client);
    return { response, position: result.position, replayed: false };
  });
  wakeReaders(env.pool);
  return outcome;
}

/** POST /orgs/{org}/members: the email is claimed in the org; the user id is derived from it. */
export async function addMember(
  env: CommandEnv,
  orgId: string,
  actorRole: Role | null,
  body: { email: string; role: Role },
): Promise<CommandOutcome<MemberView>> {
  const memberId = newId("mem");
  const email = body.email.trim().toLowerCase();
  const userId = userIdFor(email);
  const now = env.now.toISOString();
  const response: MemberView = {
    member_id: memberId,
    org_id: orgId,
    user_id: userId,
    email,
    role: body.role,
    resource_version: 1,
    created_at: now,
    updated_at: now,
  };
  return underLock(
    env,
    orgId,
    async (client) => {
      const events = decideAddMember(
        { orgId, memberId, userId, email, role: body.role },
        await facts(client, orgId, actorRole),
      );
      const result = await append(client, {
        meta: metaOf(env),
        events,
        expected: [{ aggregateType: ORG_MEMBER, aggregateId: memberId, seq: 0 }],
        ...(env.idempotency ? { idempotency: { ...env.idempotency, response } } : {}),
        clock: clockOf(env),
      });
      return { result, response };
    },
    async (client) => {
      await claimName(client, CLAIM_SCOPE.member(orgId), email, memberId, "email");
      if (body.role === "owner") await addOwnerClaim(client, orgId, memberId);
      await recordAudit(
        client,
        audit(env, orgId, memberId, "org_member.added", { email, role: body.role }),
        env.log,
      );
    },
  );
}

/** PATCH /orgs/{org}/members/{member}: a new role; demoting the last owner is refused. */
export async function changeMemberRole(
  env: CommandEnv,
  orgId: string,
  memberId: string,
  actorRole: Role | null,
  body: { role: Role; expected_version: number },
): Promise<CommandOutcome<MemberView>> {
  let oldRole: Role = body.role;
  return underLock(
    env,
    orgId,
    async (client) => {
      const { state, version } = await loadAggregate(client, memberAggregate, memberId);
      oldRole = state.role;
      const events = decideChangeRole(
        state,
        { orgId, memberId, ...body },
        await facts(client, orgId, actorRole),
      );
      const meta = metaOf(env);
      const next = evolvePending(memberAggregate, state, version, events, meta, env.now);
      const response = memberView(memberId, next);
      if (events.length === 0) return { result: null, response };
      const result = await append(client, {
        meta,
        events,
        expected: [{ aggregateType: ORG_MEMBER, aggregateId: memberId, seq: version }],
        ...(env.idempotency ? { idempotency: { ...env.idempotency, response } } : {}),
        clock: clockOf(env),
      });
      return { result, response };
    },
    async (client) => {
      if (oldRole === "owner") await removeOwnerClaim(client, orgId, memberId);
      if (body.role === "owner") await addOwnerClaim(client, orgId, memberId);
      await recordAudit(
        client,
        audit(env, orgId, memberId, "org_member.role_updated", { old_role: oldRole, new_role: body.role }),
        env.log,
      );
    },
  );
}

/** DELETE /orgs/{org}/members/{member}: frees the email; the last owner cannot go. */
export async function removeMember(
  env: CommandEnv,
  orgId: string,
  memberId: string,
  actorRole: Role | null,
): Promise<CommandOutcome<null>> {
  let removed = { email: "", role: "readonly" as Role };
  return underLock(
    env,
    orgId,
    async (client) => {
      const { state, version } = await loadAggregate(client, memberAggregate, memberId);
      const events = decideRemoveMember(state, { orgId, memberId }, await facts(client, orgId, actorRole));
      removed = { email: state.email, role: state.role };
      const result = await append(client, {
        meta: metaOf(env),
        events,
        expected: [{ aggregateType: ORG_MEMBER, aggregateId: memberId, seq: version }],
        ...(env.idempotency ? { idempotency: { ...env.idempotency, response: null } } : {}),
        clock: clockOf(env),
      });
      return { result, response: null };
    },
    async (client) => {
      await releaseNames(client, CLAIM_SCOPE.member(orgId), memberId);
      if (removed.role === "owner") await removeOwnerClaim(client, orgId, memberId);
      await recordAudit(client, audit(env, orgId, memberId, "org_member.removed", removed), env.log);
    },
  );
}

async function removeOwnerClaim(client: Queryable, orgId: string, memberId: string): Promise<void> {
  const { rowCount } = await client.query(
    "DELETE FROM org_owner_claims WHERE org_id = $1 AND member_id = $2",
    [orgId, memberId],
  );
  // The claims and the log disagree: refuse rather than let an org lose its owners unseen.
  if (rowCount !== 1) throw new KernelError("internal", `owner claim of ${memberId} is missing`);
}
