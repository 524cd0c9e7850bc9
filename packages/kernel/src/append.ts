import { type InsertedRow, insertMany, insertSingle, type StatementInput } from "./append-sql.ts";
import { type Clock, systemClock } from "./clock.ts";
import { type Queryable, sqlState, UNIQUE_VIOLATION } from "./db/pool.ts";
import { KernelError } from "./errors.ts";
import type { CommandMeta, NewEvent, Payload, StoredEvent } from "./events.ts";
import { findReplay, IDEMPOTENCY_TTL_MS, type IdempotencyRequest, type Replay } from "./idempotency.ts";
import type { Position } from "./position.ts";
import { wakeReaders } from "./wake.ts";

/** The last sequence number the writer saw for an aggregate (0 = new). */
export interface Expectation {
  aggregateType: string;
  aggregateId: string;
  seq: number;
}

export interface AppendInput {
  meta: CommandMeta;
  events: readonly NewEvent[];
  /**
   * Optimistic concurrency. Aggregates listed here must be at exactly `seq`;
   * aggregates not listed are appended at their current end (still gapless:
   * a racing writer makes one of the two fail with `version_conflict`).
   */
  expected?: readonly Expectation[];
  /** Written in the same statement as the events, with `response` stored. */
  idempotency?: IdempotencyRequest & { response: unknown };
  clock?: Clock;
}

export type AppendResult =
  | { replayed: false; events: StoredEvent[]; position: Position }
  | ({ replayed: true } & Replay);

/**
 * Appends one command's events atomically. Fails with `version_conflict` when
 * an expectation does not hold or a concurrent writer took a sequence number.
 * With `idempotency`, a key already used with the same request hash returns
 * the stored response and appends nothing; with another hash it fails with
 * `idempotency_key_reuse`.
 */
export async function append(db: Queryable, input: AppendInput): Promise<AppendResult> {
  if (input.events.length === 0) throw new KernelError("invalid_argument", "append needs at least one event");
  const now = (input.clock ?? systemClock).now();
  const ev = input.events;
  const idem = input.idempotency;
  const statement: StatementInput = {
    meta: input.meta,
    events: ev,
    at: now,
    idem: idem
      ? {
          key: idem.key,
          actorId: idem.actorId,
          scope: idem.scope,
          endpoint: idem.endpoint,
          requestHash: idem.requestHash,
          response: idem.response,
          expiresAt: new Date(now.getTime() + IDEMPOTENCY_TTL_MS),
        }
      : null,
  };
  const keyOf = (type: string, id: string) => `${type}\u0000${id}`;
  const expected = new Map((input.expected ?? []).map((x) => [keyOf(x.aggregateType, x.aggregateId), x.seq]));
  const first = ev[0] as NewEvent;
  const single = ev.every(
    (e) => e.aggregateType === first.aggregateType && e.aggregateId === first.aggregateId,
  );
  let rows: InsertedRow[];
  try {
    rows = single
      ? await insertSingle(db, statement, expected.get(keyOf(first.aggregateType, first.aggregateId)) ?? null)
      : await insertMany(db, statement, expected);
  } catch (err) {
    if (sqlState(err) === UNIQUE_VIOLATION && /events_aggregate_seq_key/.test(String(err))) {
      throw versionConflict(err);
    }
    throw err;
  }
  if (rows.length === 0) {
    // Nothing appended: the key was taken (by an earlier request, or by a
    // concurrent one whose commit the statement waited for), or else an
    // expectation failed.
    const replay = idem ? await findReplay(db, idem) : null;
    if (!replay) throw versionConflict();
    return { replayed: true, ...replay };
  }
  const events = rows.map((r, i): StoredEvent => {
    const e = ev[i] as NewEvent;
    return {
      eventId: BigInt(r.event_id),
      txId: BigInt(r.tx_id),
      occurredAt: now,
      aggregateType: e.aggregateType,
      aggregateId: e.aggregateId,
      aggregateSeq: r.aggregate_seq,
      eventType: e.eventType,
      eventVersion: e.eventVersion ?? 1,
      actorType: input.meta.actorType,
      actorId: input.meta.actorId,
      requestId: input.meta.requestId,
      orgId: e.orgId ?? null,
      appId: e.appId ?? null,
      envId: e.envId ?? null,
      correlationId: e.correlationId ?? null,
      causationId: e.causationId ?? null,
      idempotencyKey: idem?.key ?? null,
      payload: e.payload as Payload,
    };
  });
  const last = events[events.length - 1] as StoredEvent;
  wakeReaders(
    db,
    ev.map((e) => e.eventType),
  );
  return { replayed: false, events, position: { txId: last.txId, eventId: last.eventId } };
}

function versionConflict(cause?: unknown): KernelError {
  return new KernelError(
    "version_conflict",
    "The resource was changed by another request; reload and retry.",
    {
      cause,
      retryable: true,
    },
  );
}
