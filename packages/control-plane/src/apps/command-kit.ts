// What the app and env commands share: the command context, one
// transaction per command retried whole on a concurrent writer, and name claims.
import {
  type CommandMeta,
  type CommandOutcome,
  type CommandResult,
  type IdempotencyRequest,
  KernelError,
  type Pool,
  runInTransaction,
  sqlState,
  UNIQUE_VIOLATION,
} from "@plfm/kernel";
import type { PoolClient } from "pg";
import type { Principal } from "../auth/principal.ts";

/** What every app and env command gets from its route. */
export interface Ctx {
  pool: Pool;
  principal: Principal;
  orgId: string;
  idempotency: IdempotencyRequest | null;
  requestId: string;
  now: Date;
}

/** What a command returns (the kernel's shape). */
export type { CommandOutcome };

export const fixedClock = (at: Date) => ({ now: () => at });

/** Every event of one command carries the request's X-Request-Id (spec platform.md §3.1). */
export function commandMeta(ctx: Ctx): CommandMeta {
  return { actorType: ctx.principal.type, actorId: ctx.principal.id, requestId: ctx.requestId };
}

/**
 * Runs one command's transaction. A `version_conflict` from the append (a
 * concurrent writer on the aggregate; retryable) reruns the whole transaction
 * from fresh state; one from a decision (the client's stale expected_version)
 * is not retryable and goes back to the client. A name `conflict` with an
 * Idempotency-Key may be this request's concurrent twin, which won: replay it.
 */
export function runCommand<R>(
  pool: Pool,
  idempotency: IdempotencyRequest | null,
  body: (client: PoolClient) => Promise<CommandResult<R>>,
): Promise<CommandOutcome<R>> {
  return runInTransaction(pool, idempotency, body);
}

/** Claims a unique name in the caller's transaction; 409 `conflict` when taken. */
export async function claimName(client: PoolClient, scope: string, name: string, ownerId: string) {
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

/** Frees an owner's claims in `scope` except `keep` (after a rename), or all of them (after a delete). */
export async function releaseClaims(client: PoolClient, scope: string, ownerId: string, keep?: string) {
  await client.query(
    "DELETE FROM name_claims WHERE scope = $1 AND owner_id = $2 AND ($3::text IS NULL OR name <> $3)",
    [scope, ownerId, keep ?? null],
  );
}
