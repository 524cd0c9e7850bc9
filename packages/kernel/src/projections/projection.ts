import pg from "pg";
import type { PoolClient, Queryable } from "../db/pool.ts";
import type { StoredEvent } from "../events.ts";
import type { Position } from "../position.ts";

/**
 * A read model built only from the log. The runner calls `apply` with each
 * batch inside the transaction that also advances the checkpoint, so a batch
 * is applied exactly when its checkpoint moves; `apply` must still be
 * idempotent, because operators may replay and consumers are at-least-once.
 *
 * A view must be a pure function of the events: no `now()`, no sequences or
 * identity columns (a rolled-back batch burns their values), or a rebuild
 * will not reproduce it.
 */
export interface Projection {
  /** Key of its row in `projection_checkpoints`; unique per database. */
  readonly name: string;
  /** The view tables it owns: truncated on rebuild. May be schema-qualified (`s.t`). */
  readonly tables: readonly string[];
  /** Server-side filter: only these event types reach `apply` (the checkpoint still advances past the rest). */
  readonly eventTypes?: readonly string[];
  /** Applies one batch, in log order, on the runner's transaction. Never called with an empty batch. */
  apply(client: PoolClient, events: readonly StoredEvent[]): Promise<void>;
}

/** A `projection_checkpoints` row as the driver returns it. */
export interface CheckpointRow {
  last_tx_id: string;
  last_event_id: string;
}

/** Append a quoted name and `FOR UPDATE`. */
export const LOCK_CHECKPOINT_SQL =
  "SELECT last_tx_id, last_event_id FROM projection_checkpoints WHERE projection_name =";

export const checkpointFromRow = (r: CheckpointRow): Position => ({
  txId: BigInt(r.last_tx_id),
  eventId: BigInt(r.last_event_id),
});

/**
 * Locks a projection's checkpoint row for the rest of the transaction and
 * returns it, creating it at START first if it does not exist. The row lock is
 * what keeps two runners, or a runner and a rebuild, from interleaving.
 */
export async function lockCheckpoint(client: Queryable, name: string): Promise<Position> {
  const select = {
    name: "kernel_projection_lock",
    text: `${LOCK_CHECKPOINT_SQL} $1 FOR UPDATE`,
    values: [name],
  };
  let { rows } = await client.query<CheckpointRow>(select);
  if (rows.length === 0) {
    // Only the first batch ever pays for this; a racing creator makes ours a no-op.
    await client.query(
      "INSERT INTO projection_checkpoints (projection_name) VALUES ($1) ON CONFLICT (projection_name) DO NOTHING",
      [name],
    );
    ({ rows } = await client.query<CheckpointRow>(select));
  }
  const row = rows[0];
  if (!row) throw new Error(`checkpoint row for ${name} vanished`);
  return checkpointFromRow(row);
}

/**
 * SQL that moves a locked checkpoint and announces it on `channel` (the
 * notification is delivered at commit). Literal SQL rather than parameters,
 * so the runner can send it together with its COMMIT in one round trip.
 */
export function advanceCheckpointSql(name: string, position: Position, channel: string): string {
  return `UPDATE projection_checkpoints
     SET last_tx_id = '${position.txId}'::xid8, last_event_id = ${position.eventId}, updated_at = now()
   WHERE projection_name = ${pg.escapeLiteral(name)}
  RETURNING pg_notify(${pg.escapeLiteral(channel)}, ${pg.escapeLiteral(checkpointPayload(name, position))})`;
}

/** Moves a locked checkpoint; see {@link advanceCheckpointSql}. */
export async function setCheckpoint(
  client: Queryable,
  name: string,
  position: Position,
  channel: string,
): Promise<void> {
  await client.query(advanceCheckpointSql(name, position, channel));
}

/** Current checkpoints of the named projections (all when `names` is omitted); missing rows are absent. */
export async function readCheckpoints(
  db: Queryable,
  names?: readonly string[],
): Promise<Map<string, Position>> {
  const { rows } = await db.query<CheckpointRow & { projection_name: string }>({
    name: "kernel_projection_checkpoints",
    text: `SELECT projection_name, last_tx_id, last_event_id FROM projection_checkpoints
            WHERE $1::text[] IS NULL OR projection_name = ANY($1)`,
    values: [names ?? null],
  });
  return new Map(rows.map((r) => [r.projection_name, checkpointFromRow(r)]));
}

/** `<name>:<txId>:<eventId>`, the CHECKPOINTS_CHANNEL payload. */
export function checkpointPayload(name: string, p: Position): string {
  return `${name}:${p.txId}:${p.eventId}`;
}

const PAYLOAD_RE = /^(.+):(\d+):(\d+)$/;

/** Parses a CHECKPOINTS_CHANNEL payload; null when malformed (names may contain ':'). */
export function parseCheckpointPayload(payload: string): { name: string; position: Position } | null {
  const m = PAYLOAD_RE.exec(payload);
  if (!m || m[1] === undefined || m[2] === undefined || m[3] === undefined) return null;
  return { name: m[1], position: { txId: BigInt(m[2]), eventId: BigInt(m[3]) } };
}

/** Quotes `table` or `schema.table` for SQL. */
export function quoteTable(table: string): string {
  return table
    .split(".")
    .map((part) => pg.escapeIdentifier(part))
    .join(".");
}
