// The two statements behind append(): one for the common single-aggregate
// command (plain SQL, cheap to plan), one for commands spanning several
// aggregates (the kernel_append function in migrations/0001_event_log.sql).
// Each is one statement, so one round trip and an implicit transaction, which
// checks the aggregate's head against the writer's expectation, claims the
// idempotency key (a concurrent duplicate waits on its unique index, then finds
// it taken) and inserts the events only if both held.
import type { Queryable } from "./db/pool.ts";
import type { CommandMeta, NewEvent } from "./events.ts";

/** One inserted event, in input order. */
export interface InsertedRow {
  event_id: string;
  tx_id: string;
  aggregate_seq: number;
}

export interface IdempotencyParams {
  key: string;
  actorId: string;
  scope: string;
  endpoint: string;
  requestHash: string;
  response: unknown;
  expiresAt: Date;
}

export interface StatementInput {
  meta: CommandMeta;
  events: readonly NewEvent[];
  at: Date;
  idem: IdempotencyParams | null;
}

// Aggregates with a NULL expectation are appended at their current end: a
// racing writer then fails on events_aggregate_seq_key, so sequences stay
// gapless either way. No rows back means the expectation failed or the key
// was taken; the caller tells which.
const singleSql = (rows: string) => `
WITH head AS (
  SELECT coalesce((SELECT aggregate_seq FROM events WHERE aggregate_type = $1 AND aggregate_id = $2
                    ORDER BY aggregate_seq DESC LIMIT 1), 0) AS seq
), ok AS (
  SELECT head.seq FROM head WHERE $3::int IS NULL OR $3::int = head.seq
), idem AS (
  INSERT INTO idempotency_records AS r
    (scope, actor_id, endpoint, idempotency_key, request_hash, response, last_tx_id, created_at, expires_at)
  SELECT $17, $22, $18, $16, $19, $20::jsonb, pg_current_xact_id(), $15, $21 FROM ok WHERE $16::text IS NOT NULL
  ON CONFLICT (scope, actor_id, endpoint, idempotency_key) DO UPDATE
    SET request_hash = EXCLUDED.request_hash, response = EXCLUDED.response, last_tx_id = EXCLUDED.last_tx_id,
        created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
    WHERE r.expires_at <= now()
  RETURNING 1
)
INSERT INTO events (aggregate_type, aggregate_id, aggregate_seq, event_type, event_version, actor_type, actor_id,
  request_id, org_id, app_id, env_id, correlation_id, causation_id, idempotency_key, payload, occurred_at)
SELECT $1, $2, ok.seq + t.n, t.et, t.v, $12, $13, $14, t.o, t.a, t.en, t.c, t.ca, $16, t.pl, $15
  FROM ok, ${rows} AS t(et, v, o, a, en, c, ca, pl, n)
 WHERE $16::text IS NULL OR EXISTS (SELECT 1 FROM idem)
 ORDER BY t.n
RETURNING event_id, tx_id, aggregate_seq`;

const SINGLE_SQL = singleSql(
  "unnest($4::text[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::jsonb[]) WITH ORDINALITY",
);
// The most common command, one event: scalar parameters, no arrays to encode and parse.
const SINGLE_ONE_SQL = singleSql(
  "(SELECT $4::text, $5::int, $6::text, $7::text, $8::text, $9::text, $10::bigint, $11::jsonb, 1)",
);

/** Appends events of one aggregate; empty when the expectation failed or the key was taken. */
export async function insertSingle(
  db: Queryable,
  input: StatementInput,
  expected: number | null,
): Promise<InsertedRow[]> {
  const ev = input.events;
  const first = ev[0] as NewEvent;
  const idem = input.idem;
  const one = ev.length === 1;
  const col = <T>(f: (e: NewEvent) => T): T | T[] => (one ? f(first) : ev.map(f));
  const { rows } = await db.query<InsertedRow>({
    name: one ? "kernel_append_one" : "kernel_append_single",
    text: one ? SINGLE_ONE_SQL : SINGLE_SQL,
    values: [
      first.aggregateType,
      first.aggregateId,
      expected,
      col((e) => e.eventType),
      col((e) => e.eventVersion ?? 1),
      col((e) => e.orgId ?? null),
      col((e) => e.appId ?? null),
      col((e) => e.envId ?? null),
      col((e) => e.correlationId ?? null),
      col((e) => (e.causationId == null ? null : e.causationId.toString())),
      col((e) => JSON.stringify(e.payload)),
      input.meta.actorType,
      input.meta.actorId,
      input.meta.requestId,
      input.at,
      idem?.key ?? null,
      idem?.scope ?? null,
      idem?.endpoint ?? null,
      idem?.requestHash ?? null,
      idem ? JSON.stringify(idem.response ?? null) : null,
      idem?.expiresAt ?? null,
      idem?.actorId ?? null,
    ],
  });
  return rows.sort((a, b) => Number(BigInt(a.event_id) - BigInt(b.event_id)));
}

/**
 * Appends events spanning several aggregates through kernel_append(jsonb).
 * `expected` maps `type\0id` to the expected sequence; unlisted = at the end.
 */
export async function insertMany(
  db: Queryable,
  input: StatementInput,
  expected: ReadonlyMap<string, number>,
): Promise<InsertedRow[]> {
  const ev = input.events;
  const idem = input.idem;
  // One entry per distinct aggregate, and per event its 1-based offset in it.
  const aggs = new Map<string, { t: string; i: string; x: number | null; count: number }>();
  const offsets = ev.map((e) => {
    const k = `${e.aggregateType}\u0000${e.aggregateId}`;
    let a = aggs.get(k);
    if (!a) {
      a = { t: e.aggregateType, i: e.aggregateId, x: expected.get(k) ?? null, count: 0 };
      aggs.set(k, a);
    }
    return ++a.count;
  });
  const command = {
    aggs: [...aggs.values()].map(({ t, i, x }) => ({ t, i, x })),
    events: ev.map((e, ord) => ({
      ord,
      t: e.aggregateType,
      i: e.aggregateId,
      k: offsets[ord],
      et: e.eventType,
      v: e.eventVersion ?? 1,
      o: e.orgId ?? null,
      a: e.appId ?? null,
      en: e.envId ?? null,
      c: e.correlationId ?? null,
      ca: e.causationId == null ? null : e.causationId.toString(),
      pl: e.payload,
    })),
    actor_type: input.meta.actorType,
    actor_id: input.meta.actorId,
    request_id: input.meta.requestId,
    at: input.at.toISOString(),
    idem_key: idem?.key ?? null,
    idem_scope: idem?.scope ?? null,
    idem_actor_id: idem?.actorId ?? null,
    idem_endpoint: idem?.endpoint ?? null,
    idem_hash: idem?.requestHash ?? null,
    idem_response: idem ? (idem.response ?? null) : null,
    idem_expires_at: idem?.expiresAt.toISOString() ?? null,
  };
  const { rows } = await db.query<{ ok: boolean } & { [K in keyof InsertedRow]: InsertedRow[K] | null }>({
    name: "kernel_append_many",
    text: "SELECT ok, event_id, tx_id, aggregate_seq FROM kernel_append($1)",
    values: [JSON.stringify(command)],
  });
  return rows.filter((r): r is { ok: boolean } & InsertedRow => r.event_id !== null);
}
