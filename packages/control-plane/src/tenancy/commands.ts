// The org commands' I/O: load, decide (pure, org.ts), claim names, append.
import {
  append,
  evolvePending,
  findReplay,
  handleCommand,
  type IdempotencyRequest,
  KernelError,
  newId,
  type Pool,
  type Position,
  sqlState,
  UNIQUE_VIOLATION,
  wakeReaders,
  withTransaction,
} from "@plfm/kernel";
import type { PoolClient } from "pg";
import type { Principal } from "../auth/principal.ts";
import {
  decideCreateOrg,
  decideUpdateOrg,
  evolveOrg,
  initialOrg,
  ORG,
  type OrgView,
  orgView,
} from "./org.ts";

export interface CommandOutcome<R> {
  response: R;
  position: Position | null;
  replayed: boolean;
}

const ORG_NAMES = "org";
const fixedClock = (at: Date) => ({ now: () => at });

/** Claims a unique name in the caller's transaction; 409 `conflict` when taken. */
async function claimName(client: PoolClient, scope: string, name: string, ownerId: string): Promise<void> {
  try {
    await client.query("INSERT INTO name_claims (scope, name, owner_id) VALUES ($1, $2, $3)", [
      scope,
      name,
      ownerId,
    ]);
  } catch (err) {
    if (sqlState(err) !== UNIQUE_VIOLATION) throw err;
    throw new KernelError("conflict", `The name '${name}' is already in use.`, {
      details: [{ field: "name", code: "name_in_use", message: "already in use" }],
    });
  }
}

export async function createOrg(
  pool: Pool,
  principal: Principal,
  body: { name: string; billing_email?: string | undefined },
  idempotency: IdempotencyRequest | null,
  now: Date,
): Promise<CommandOutcome<OrgView>> {
  if (principal.type !== "user" || principal.email === null) {
    throw new KernelError("forbidden", "Only users create organisations.");
  }
  if (idempotency) {
    const replay = await findReplay(pool, idempotency);
    if (replay) return { response: replay.response as OrgView, position: replay.position, replayed: true };
  }
  const orgId = newId("org");
  const events = decideCreateOrg({
    orgId,
    memberId: newId("mem"),
    name: body.name,
    billingEmail: body.billing_email,
    creator: { userId: principal.id, email: principal.email },
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
      await claimName(client, ORG_NAMES, body.name, orgId);
      return append(client, {
        meta: { actorType: "user", actorId: principal.id, requestId: idempotency?.key ?? orgId },
        events,
        expected: events.map((e) => ({ aggregateType: e.aggregateType, aggregateId: e.aggregateId, seq: 0 })),
        ...(idempotency ? { idempotency: { ...idempotency, response } } : {}),
        clock: fixedClock(now),
      });
    });
    wakeReaders(pool);
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

export async function updateOrg(
  pool: Pool,
  principal: Principal,
  orgId: string,
  body: { name?: string | undefined; billing_email?: string | undefined; expected_version: number },
  idempotency: IdempotencyRequest | null,
  now: Date,
): Promise<CommandOutcome<OrgView>> {
  const meta = {
    actorType: principal.type,
    actorId: principal.id,
    requestId: idempotency?.key ?? newId("req"),
  };
  const aggregate = { aggregateType: ORG, initial: initialOrg, evolve: evolveOrg };
  // A rename needs its new name claimed in the append's transaction.
  const result = await withTransaction(pool, async (client) => {
    const r = await handleCommand(client, {
      aggregate,
      aggregateId: orgId,
      meta,
      clock: fixedClock(now),
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
      await claimName(client, ORG_NAMES, body.name as string, orgId);
      await client.query("DELETE FROM name_claims WHERE scope = $1 AND owner_id = $2 AND name <> $3", [
        ORG_NAMES,
        orgId,
        body.name,
      ]);
    }
    return r;
  });
  wakeReaders(pool);
  return { response: result.response, position: result.position, replayed: result.replayed };
}
