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

const APPEND_SQL = `SELECT ok, event_id, tx_id, aggregate_seq FROM kernel_append(
  $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`;

interface AppendRow {
  ok: boolean;
  event_id: string | null;
  tx_id: string | null;
  aggregate_seq: number | null;
}

/**
 * Appends one command's events atomically. Fails with `version_conflict` when
 * an expectation does not hold or a concurrent writer took a sequence number.
 * With `idempotency`, a key already used with the same request hash returns
 * the stored response and appends nothing; with another hash it fails with
 * `idempotency_key_reuse`.
 */
export async function append(db: Queryable, input: AppendInput): Promise<AppendResult> {
  if (input.events.length === 0) throw new KernelError("invalid_argument", "append needs at least one event");
  const clock = input.clock ?? systemClock;
  const now = clock.now();
  const ev = input.events;
  const idem = input.idempotency;
  // One entry per distinct aggregate, with its expectation (null = "at the end"),
  // and per event its 1-based offset within its aggregate.
  const aggIndex = new Map<string, number>();
  const aggs: { type: string; id: string; expected: number | null }[] = [];
  const counts: number[] = [];
  const offsets = ev.map((e) => {
    const k = `${e.aggregateType}\u0000${e.aggregateId}`;
    let i = aggIndex.get(k);
    if (i === undefined) {
      i = aggs.length;
      aggIndex.set(k, i);
      aggs.push({ type: e.aggregateType, id: e.aggregateId, expected: null });
      counts.push(0);
    }
    counts[i] = (counts[i] ?? 0) + 1;
    return counts[i];
  });
  for (const x of input.expected ?? []) {
    const i = aggIndex.get(`${x.aggregateType}\u0000${x.aggregateId}`);
    if (i !== undefined) (aggs[i] as { expected: number | null }).expected = x.seq;
  }
  const params = [
    aggs.map((a) => a.type),
    aggs.map((a) => a.id),
    aggs.map((a) => a.expected),
    ev.map((e) => e.aggregateType),
    ev.map((e) => e.aggregateId),
    offsets,
    ev.map((e) => e.eventType),
    ev.map((e) => e.eventVersion ?? 1),
    ev.map((e) => e.orgId ?? null),
    ev.map((e) => e.appId ?? null),
    ev.map((e) => e.envId ?? null),
    ev.map((e) => e.correlationId ?? null),
    ev.map((e) => (e.causationId == null ? null : e.causationId.toString())),
    ev.map((e) => JSON.stringify(e.payload)),
    input.meta.actorType,
    input.meta.actorId,
    input.meta.requestId,
    now,
    idem?.key ?? null,
    idem?.scope ?? null,
    idem?.endpoint ?? null,
    idem?.requestHash ?? null,
    idem ? JSON.stringify(idem.response ?? null) : null,
    new Date(now.getTime() + IDEMPOTENCY_TTL_MS),
  ];
  let rows: AppendRow[];
  try {
    rows = (await db.query<AppendRow>({ name: "kernel_append", text: APPEND_SQL, values: params })).rows;
  } catch (err) {
    if (sqlState(err) === UNIQUE_VIOLATION && /events_aggregate_seq_key/.test(String(err))) {
      throw versionConflict(err);
    }
    throw err;
  }
  const first = rows[0];
  if (!first?.ok) throw versionConflict();
  if (first.event_id === null) {
    // The heads held but the key was taken: by an earlier request, or by a
    // concurrent one whose commit this statement waited for.
    const replay = idem ? await findReplay(db, idem) : null;
    if (!replay)
      throw new KernelError("unavailable", "idempotency record vanished; retry", { retryable: true });
    return { replayed: true, ...replay };
  }
  const events = rows.map((r, i): StoredEvent => {
    const e = ev[i] as NewEvent;
    return {
      eventId: BigInt(r.event_id as string),
      txId: BigInt(r.tx_id as string),
      occurredAt: now,
      aggregateType: e.aggregateType,
      aggregateId: e.aggregateId,
      aggregateSeq: r.aggregate_seq as number,
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
  wakeReaders(db);
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
