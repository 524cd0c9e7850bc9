// What every storage command shares: who asks, its transaction (retried whole
// when a concurrent writer took an aggregate's next seq), and one aggregate's
// load → decide → append on that transaction.
import {
  type AggregateDef,
  type CommandMeta,
  type CommandOutcome,
  type CommandResult,
  evolvePending,
  handleCommand,
  type IdempotencyRequest,
  type NewEvent,
  type Pool,
  type PoolClient,
  runInTransaction,
} from "@plfm/kernel";

/** What a command returns (the kernel's shape). */
export type { CommandOutcome };

/** Who runs a command, and under which request (a user or SP over the API, or a node). */
export interface StorageCtx {
  pool: Pool;
  actor: { type: string; id: string };
  idempotency: IdempotencyRequest | null;
  requestId: string;
  now: Date;
}

export const metaOf = (ctx: StorageCtx): CommandMeta => ({
  actorType: ctx.actor.type,
  actorId: ctx.actor.id,
  requestId: ctx.requestId,
});

const fixedClock = (at: Date) => ({ now: () => at });

/**
 * Runs one command's transaction. A known idempotency key answers as before,
 * even if state has moved on since. A `version_conflict` from the append (a
 * concurrent writer; the storage decisions take no expected_version) reruns
 * the whole transaction from fresh state.
 */
export function runCommand<R>(
  ctx: StorageCtx,
  body: (client: PoolClient) => Promise<CommandResult<R>>,
): Promise<CommandOutcome<R>> {
  return runInTransaction(ctx.pool, ctx.idempotency, body);
}

/**
 * One aggregate's command on the transaction: decide against its state and
 * answer from the state the events lead to (the same evolve the reads use).
 */
export function onAggregate<S, R>(
  client: PoolClient,
  ctx: StorageCtx,
  aggregate: AggregateDef<S>,
  aggregateId: string,
  decide: (state: S) => NewEvent[],
  respond: (next: S) => R,
): Promise<CommandResult<R>> {
  const meta = metaOf(ctx);
  return handleCommand(client, {
    aggregate,
    aggregateId,
    meta,
    clock: fixedClock(ctx.now),
    maxAttempts: 1,
    ...(ctx.idempotency ? { idempotency: ctx.idempotency } : {}),
    decide: (state, version) => {
      const events = decide(state);
      return { events, response: respond(evolvePending(aggregate, state, version, events, meta, ctx.now)) };
    },
  });
}
