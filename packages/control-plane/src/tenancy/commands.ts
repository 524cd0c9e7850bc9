// The org commands' I/O: load, decide (pure, org.ts), claim names, append;
// and the environment every tenancy command shares.
import {
  append,
  type CommandOutcome,
  evolvePending,
  findReplay,
  handleCommand,
  type IdempotencyRequest,
  KernelError,
  newId,
  type Pool,
  type Queryable,
  wakeReaders,
  withTransaction,
} from "@plfm/kernel";
import type { Principal } from "../auth/principal.ts";
import { type AuditLogger, recordAudit } from "./audit.ts";
import { CLAIM_SCOPE, claimName, releaseNames } from "./claims.ts";
import {
  decideCreateOrg,
  decideUpdateOrg,
  evolveOrg,
  initialOrg,
  ORG,
  ORG_MEMBER,
  type OrgView,
  orgView,
} from "./org.ts";

/** What a command returns (the kernel's shape). */
export type { CommandOutcome };

const fixedClock = (at: Date) => ({ now: () => at });

/** What every tenancy command needs besides its own input. */
export interface CommandEnv {
  pool: Pool;
  principal: Principal;
  idempotency: IdempotencyRequest | null;
  /** The HTTP request id: every event of the command carries it. */
  requestId: string;
  now: Date;
  /** Where audit lines go (recordAudit). */
  log: AuditLogger;
}

/** The events' envelope fields shared by one command. */
export const metaOf = (env: CommandEnv) => ({
  actorType: env.principal.type,
  actorId: env.principal.id,
  requestId: env.requestId,
});

export const clockOf = (env: CommandEnv) => fixedClock(env.now);

/** POST /orgs: the org and its creator as owner, with the org name and the owner's email claimed. */
export async function createOrg(
  env: CommandEnv,
  body: { name: string; billing_email?: string | undefined },
): Promise<CommandOutcome<OrgView>> {
  const { pool, principal, idempotency, now } = env;
  if (principal.type !== "user" || principal.email === null) {
    throw new KernelError("forbidden", "Only users create organisations.");
  }
  if (idempotency) {
    const replay = await findReplay(pool, idempotency);
    if (replay) return { response: replay.response as OrgView, position: replay.position, replayed: true };
  }
  const orgId = newId("org");
  const memberId = newId("mem");
  const email = principal.email;
  const events = decideCreateOrg({
    orgId,
    memberId,
    name: body.name,
    billingEmail: body.billing_email,
    creator: { userId: principal.id, email },
  });
  const response: OrgView = {
    org_id: orgId,
    name: body.name,
    billing_email: body.billing_email ?? null,
    resource_version: 1,
    created_at: now.toISOString(),
    updated_at: now.toISOString(),
  };
  try {
    const result = await withTransaction(pool, async (client) => {
      await claimName(client, CLAIM_SCOPE.org(), body.name, orgId);
      const r = await append(client, {
        meta: metaOf(env),
        events,
        expected: events.map((e) => ({ aggregateType: e.aggregateType, aggregateId: e.aggregateId, seq: 0 })),
        ...(idempotency ? { idempotency: { ...idempotency, response } } : {}),
        clock: clockOf(env),
      });
      if (!r.replayed) {
        await claimName(client, CLAIM_SCOPE.member(orgId), email, memberId, "email");
        await addOwnerClaim(client, orgId, memberId);
        await recordAudit(
          client,
          {
            org_id: orgId,
            actor_type: principal.type,
            actor_id: principal.id,
            action: "org_member.added",
            target_type: ORG_MEMBER,
            target_id: memberId,
            request_id: env.requestId,
            details: { email, role: "owner" },
          },
          env.log,
        );
      }
      return r;
    });
    if (!result.replayed)
      wakeReaders(
        pool,
        events.map((e) => e.eventType),
      );
    if (result.replayed)
      return { response: result.response as OrgView, position: result.position, replayed: true };
    return { response, position: result.position, replayed: false };
  } catch (err) {
    // A concurrent twin of this request may have claimed the name first.
    if (idempotency && err instanceof KernelError && err.code === "conflict") {
      const replay = await findReplay(pool, idempotency);
      if (replay) return { response: replay.response as OrgView, position: replay.position, replayed: true };
    }
    throw err;
  }
}

/** PATCH /orgs/{org}: rename (claiming the new name, freeing the old) or set the billing email. */
export async function updateOrg(
  env: CommandEnv,
  orgId: string,
  body: { name?: string | undefined; billing_email?: string | undefined; expected_version: number },
): Promise<CommandOutcome<OrgView>> {
  const { pool, idempotency, now } = env;
  const meta = metaOf(env);
  const aggregate = { aggregateType: ORG, initial: initialOrg, evolve: evolveOrg };
  // A rename needs its new name claimed in the append's transaction.
  const result = await withTransaction(pool, async (client) => {
    const r = await handleCommand(client, {
      aggregate,
      aggregateId: orgId,
      meta,
      clock: clockOf(env),
      maxAttempts: 1,
      ...(idempotency ? { idempotency } : {}),
      decide: (state, version) => {
        const events = decideUpdateOrg(state, orgId, body);
        const next = evolvePending(aggregate, state, version, events, meta, now);
        return { events, response: orgView(orgId, next) };
      },
    });
    const renamed = body.name !== undefined && !r.replayed && r.events.some((e) => "name" in e.payload);
    if (renamed) {
      await claimName(client, CLAIM_SCOPE.org(), body.name as string, orgId);
      await releaseNames(client, CLAIM_SCOPE.org(), orgId, body.name as string);
    }
    return r;
  });
  wakeReaders(pool);
  return { response: result.response, position: result.position, replayed: result.replayed };
}

/** Records `memberId` as one of the org's owners (see org_owner_claims). */
export async function addOwnerClaim(client: Queryable, orgId: string, memberId: string): Promise<void> {
  await client.query(
    "INSERT INTO org_owner_claims (org_id, member_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    [orgId, memberId],
  );
}
