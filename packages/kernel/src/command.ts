import { setTimeout as sleep } from "node:timers/promises";
import { append, type Expectation } from "./append.ts";
import type { Clock } from "./clock.ts";
import { type Pool, type PoolClient, type Queryable, withTransaction } from "./db/pool.ts";
import { isKernelError } from "./errors.ts";
import type { CommandMeta, NewEvent, StoredEvent } from "./events.ts";
import { findReplay, type IdempotencyRequest } from "./idempotency.ts";
import type { Position } from "./position.ts";
import { readAggregate } from "./read.ts";
import { wakeReaders } from "./wake.ts";

/** A pure decision: what to append, and what to answer (stored for replays). */
export interface Decision<R> {
  events: NewEvent[];
  response: R;
}

/** An aggregate's state folded from its events, by a pure `evolve`. */
export interface AggregateDef<S> {
  aggregateType: string;
  initial: () => S;
  evolve: (state: S, event: StoredEvent) => S;
}

export interface CommandInput<S, R> {
  aggregate: AggregateDef<S>;
  aggregateId: string;
  meta: CommandMeta;
  /** Pure: current state → events and response, or throw a KernelError. */
  decide: (state: S, version: number) => Decision<R>;
  idempotency?: IdempotencyRequest;
  /** Attempts on `version_conflict` before giving up (default 5). */
  maxAttempts?: number;
  clock?: Clock;
}

export type CommandResult<R> =
  | { replayed: false; response: R; events: StoredEvent[]; position: Position | null }
  | { replayed: true; response: R; position: Position | null };

/** Loads an aggregate and folds it: its state and version (last seq, 0 if new). */
export async function loadAggregate<S>(
  db: Queryable,
  def: AggregateDef<S>,
  aggregateId: string,
): Promise<{ state: S; version: number }> {
  const events = await readAggregate(db, def.aggregateType, aggregateId);
  let state = def.initial();
  for (const e of events) state = def.evolve(state, e);
  return {
    state,
    version: events.length === 0 ? 0 : (events[events.length - 1] as StoredEvent).aggregateSeq,
  };
}

/**
 * Load → decide → append, retried from fresh state on `version_conflict`.
 * `decide` is pure and may throw a KernelError, which is passed on with nothing
 * written. A known idempotency key short-circuits before `decide`, so a replay answers
 * the same even if the state has moved on since.
 */
export async function handleCommand<S, R>(
  db: Queryable,
  input: CommandInput<S, R>,
): Promise<CommandResult<R>> {
  const maxAttempts = input.maxAttempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    if (input.idempotency) {
      const replay = await findReplay(db, input.idempotency);
      if (replay) return { replayed: true, response: replay.response as R, position: replay.position };
    }
    const { state, version } = await loadAggregate(db, input.aggregate, input.aggregateId);
    const decision = input.decide(state, version);
    // Nothing to change: answer without writing (and without a record, since
    // a retry would decide the same).
    if (decision.events.length === 0)
      return { replayed: false, response: decision.response, events: [], position: null };
    const expected: Expectation[] = [
      { aggregateType: input.aggregate.aggregateType, aggregateId: input.aggregateId, seq: version },
    ];
    try {
      const result = await append(db, {
        meta: input.meta,
        events: decision.events,
        expected,
        ...(input.idempotency ? { idempotency: { ...input.idempotency, response: decision.response } } : {}),
        ...(input.clock ? { clock: input.clock } : {}),
      });
      if (result.replayed)
        return { replayed: true, response: result.response as R, position: result.position };
      return {
        replayed: false,
        response: decision.response,
        events: result.events,
        position: result.position,
      };
    } catch (err) {
      if (!isKernelError(err, "version_conflict") || attempt >= maxAttempts) throw err;
      // Jitter spreads out writers that collided so they do not collide again.
      await sleep(Math.floor(Math.random() * 5 * attempt));
    }
  }
}

/**
 * The state after events a decision is about to append, for building the
 * response from the same `evolve` the reads use. Log positions are unknown
 * yet (zero); sequence numbers follow `version`.
 */
export function evolvePending<S>(
  def: AggregateDef<S>,
  state: S,
  version: number,
  events: readonly NewEvent[],
  meta: CommandMeta,
  at: Date,
): S {
  let next = state;
  let seq = version;
  for (const e of events) {
    if (e.aggregateType !== def.aggregateType) continue;
    next = def.evolve(next, {
      eventId: 0n,
      txId: 0n,
      occurredAt: at,
      aggregateType: e.aggregateType,
      aggregateId: e.aggregateId,
      aggregateSeq: ++seq,
      eventType: e.eventType,
      eventVersion: e.eventVersion ?? 1,
      actorType: meta.actorType,
      actorId: meta.actorId,
      requestId: meta.requestId,
      orgId: e.orgId ?? null,
      appId: e.appId ?? null,
      envId: e.envId ?? null,
      correlationId: e.correlationId ?? null,
      causationId: e.causationId ?? null,
      idempotencyKey: null,
      payload: e.payload,
    });
  }
  return next;
}

/** What a command run in its own transaction answers. */
export interface CommandOutcome<R> {
  response: R;
  position: Position | null;
  replayed: boolean;
}

/**
 * Runs a command whose work needs more than one statement (name claims,
 * command-side tables, several aggregates) in one transaction of its own:
 * - a known idempotency key answers first, even if state has moved on since;
 * - a retryable `version_conflict` (a concurrent writer took a sequence
 *   number) reruns the whole transaction from fresh state; a decision's
 *   stale-version refusal is not retryable and goes back to the caller;
 * - when it fails otherwise and a twin with the same key committed meanwhile
 *   (it took the name we wanted, say), the twin's answer is ours;
 * - after COMMIT it wakes readers, naming the appended event types.
 */
export async function runInTransaction<R>(
  pool: Pool,
  idempotency: IdempotencyRequest | null,
  body: (client: PoolClient) => Promise<CommandResult<R>>,
  attempts = 4,
): Promise<CommandOutcome<R>> {
  if (idempotency) {
    const replay = await findReplay(pool, idempotency);
    if (replay) return { response: replay.response as R, position: replay.position, replayed: true };
  }
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await withTransaction(pool, body);
      if (!r.replayed && r.position !== null)
        wakeReaders(
          pool,
          r.events.map((e) => e.eventType),
        );
      return { response: r.response, position: r.position, replayed: r.replayed };
    } catch (err) {
      if (isKernelError(err, "version_conflict") && err.retryable && attempt < attempts) continue;
      if (idempotency && isKernelError(err)) {
        const replay = await findReplay(pool, idempotency);
        if (replay) return { response: replay.response as R, position: replay.position, replayed: true };
      }
      throw err;
    }
  }
}
