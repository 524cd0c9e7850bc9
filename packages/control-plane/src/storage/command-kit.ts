// What every storage command shares: who asks, its transaction (retried whole
// when a concurrent writer took an aggregate's next seq), and one aggregate's
// load → decide → append on that transaction.
import {
  type AggregateDef,
  type CommandMeta,
  type CommandResult,
  evolvePending,
  findReplay,
  handleCommand,
  type IdempotencyRequest,
  isKernelError,
  type NewEvent,
  type Pool,
  type PoolClient,
  type Position,
  wakeReaders,
  withTransaction,
} from "@plfm/kernel";

export interface CommandOutcome<R> {
  response: R;
  position: Position | null;
  replayed: boolean;
}

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
const ATTEMPTS = 4;

/**
 * Runs one command's transaction. A known idempotency key answers as before,
 * even if state has moved on since. A `version_conflict` from the append (a
 * concurrent writer; the storage decisions take no expected_version) reruns
 * the whole transaction from fresh state.
 */
export async function runCommand<R>(
  ctx: StorageCtx,
  body: (client: PoolClient) => Promise<CommandResult<R>>,
): Promise<CommandOutcome<R>> {
  if (ctx.idempotency) {
    const replay = await findReplay(ctx.pool, ctx.idempotency);
    if (replay) return { response: replay.response as R, position: replay.position, replayed: true };
  }
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await withTransaction(ctx.pool, body);
      if (!r.replayed && r.position !== null) wakeReaders(ctx.pool);
      return { response: r.response, position: r.position, replayed: r.replayed };
    } catch (err) {
      if (isKernelError(err, "version_conflict") && attempt < ATTEMPTS) continue;
      throw err;
    }
  }
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
