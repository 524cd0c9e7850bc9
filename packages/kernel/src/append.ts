import { type Clock, systemClock } from "./clock.ts";
import { type Queryable, sqlState, UNIQUE_VIOLATION } from "./db/pool.ts";
import { KernelError } from "./errors.ts";
import type { CommandMeta, NewEvent, Payload, StoredEvent } from "./events.ts";
import { findReplay, IDEMPOTENCY_TTL_MS, type IdempotencyRequest, type Replay } from "./idempotency.ts";
import type { Position } from "./position.ts";

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

// One statement, so one round trip and an implicit transaction: check the
// aggregates' heads, claim the idempotency key (a concurrent duplicate waits
// on its unique index), then insert the events only if both succeeded.
const APPEND_SQL = `
WITH input AS (
  SELECT t.*, row_number() OVER (PARTITION BY t.aggregate_type, t.aggregate_id ORDER BY t.ord) AS n
  FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int[], $6::text[], $7::text[],
              $8::text[], $9::text[], $10::bigint[], $11::jsonb[]) WITH ORDINALITY
    AS t(aggregate_type, aggregate_id, expected_seq, event_type, event_version, org_id, app_id,
         env_id, correlation_id, causation_id, payload, ord)
), heads AS (
  SELECT a.aggregate_type, a.aggregate_id, a.expected_seq,
         coalesce((SELECT e.aggregate_seq FROM events e
                    WHERE e.aggregate_type = a.aggregate_type AND e.aggregate_id = a.aggregate_id
                    ORDER BY e.aggregate_seq DESC LIMIT 1), 0) AS head
  FROM (SELECT DISTINCT ON (aggregate_type, aggregate_id) aggregate_type, aggregate_id, expected_seq
          FROM input ORDER BY aggregate_type, aggregate_id, ord) a
), ok AS (
  SELECT coalesce(bool_and(expected_seq IS NULL OR expected_seq = head), true) AS ok FROM heads
), idem AS (
  INSERT INTO idempotency_records
    (scope, actor_id, endpoint, idempotency_key, request_hash, response, last_tx_id, created_at, expires_at)
  SELECT $16, $13, $17, $15, $18, $19::jsonb, pg_current_xact_id(), $20, $21
    FROM ok WHERE ok.ok AND $15::text IS NOT NULL
  ON CONFLICT (scope, actor_id, endpoint, idempotency_key) DO UPDATE
    SET request_hash = EXCLUDED.request_hash, response = EXCLUDED.response, last_tx_id = EXCLUDED.last_tx_id,
        created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
    WHERE idempotency_records.expires_at <= now()
  RETURNING 1
), ins AS (
  INSERT INTO events (aggregate_type, aggregate_id, aggregate_seq, event_type, event_version, actor_type,
    actor_id, request_id, org_id, app_id, env_id, correlation_id, causation_id, idempotency_key, payload,
    occurred_at)
  SELECT i.aggregate_type, i.aggregate_id, h.head + i.n, i.event_type, i.event_version, $12, $13, $14,
         i.org_id, i.app_id, i.env_id, i.correlation_id, i.causation_id, $15, i.payload, $20
    FROM input i JOIN heads h USING (aggregate_type, aggregate_id) CROSS JOIN ok
   WHERE ok.ok AND ($15::text IS NULL OR EXISTS (SELECT 1 FROM idem))
   ORDER BY i.ord
  RETURNING event_id, tx_id, aggregate_type, aggregate_id, aggregate_seq
)
SELECT (SELECT ok FROM ok) AS ok, ins.event_id, ins.tx_id, ins.aggregate_type, ins.aggregate_id, ins.aggregate_seq
  FROM (SELECT 1) one LEFT JOIN ins ON true
 ORDER BY ins.event_id`;

interface AppendRow {
  ok: boolean;
  event_id: string | null;
  tx_id: string | null;
  aggregate_type: string | null;
  aggregate_id: string | null;
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
  const expectedBy = new Map<string, number>();
  for (const x of input.expected ?? []) expectedBy.set(`${x.aggregateType}\u0000${x.aggregateId}`, x.seq);
  const ev = input.events;
  const idem = input.idempotency;
  const params = [
    ev.map((e) => e.aggregateType),
    ev.map((e) => e.aggregateId),
    ev.map((e) => expectedBy.get(`${e.aggregateType}\u0000${e.aggregateId}`) ?? null),
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
    idem?.key ?? null,
    idem?.scope ?? null,
    idem?.endpoint ?? null,
    idem?.requestHash ?? null,
    idem ? JSON.stringify(idem.response ?? null) : null,
    now,
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
