import { createHash } from "node:crypto";
import type { Queryable } from "./db/pool.ts";
import { KernelError } from "./errors.ts";
import type { Position } from "./position.ts";

/** Records are kept at least this long (spec: ≥ 24 h), then cleaned. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/** Which request an idempotency key belongs to. */
export interface IdempotencyScope {
  /** Org id, or `_global` for requests outside any org. */
  scope: string;
  actorId: string;
  /** Stable endpoint name, e.g. `apps.create`. */
  endpoint: string;
  key: string;
}

export interface IdempotencyRequest extends IdempotencyScope {
  /** From {@link requestHash}. */
  requestHash: string;
}

/** What a replay returns: the stored response and where its events landed. */
export interface Replay {
  response: unknown;
  /** Wait for this before answering again (projections may still lag). */
  position: Position | null;
}

/** JSON with object keys sorted recursively, so equal bodies hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = sortKeys((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

/** sha256(endpoint + "\n" + canonical JSON body), hex. */
export function requestHash(endpoint: string, body: unknown): string {
  return createHash("sha256")
    .update(`${endpoint}\n${canonicalJson(body ?? null)}`)
    .digest("hex");
}

/**
 * Looks up a live record. Same hash: the replay. Different hash:
 * `idempotency_key_reuse`. No record: null.
 */
export async function findReplay(db: Queryable, req: IdempotencyRequest): Promise<Replay | null> {
  const { rows } = await db.query<{ request_hash: string; response: unknown; last_tx_id: string | null }>(
    `SELECT request_hash, response, last_tx_id FROM idempotency_records
      WHERE scope = $1 AND actor_id = $2 AND endpoint = $3 AND idempotency_key = $4 AND expires_at > now()`,
    [req.scope, req.actorId, req.endpoint, req.key],
  );
  const row = rows[0];
  if (!row) return null;
  if (row.request_hash !== req.requestHash) {
    throw new KernelError(
      "idempotency_key_reuse",
      "This Idempotency-Key was already used with a different request body.",
    );
  }
  return {
    response: row.response,
    // The record knows the transaction, not its last event: waiting for the
    // end of that transaction covers every event it appended.
    position: row.last_tx_id === null ? null : { txId: BigInt(row.last_tx_id), eventId: 2n ** 63n - 1n },
  };
}

/** Deletes expired records, a bounded batch per call; returns how many. */
export async function cleanIdempotencyRecords(db: Queryable, batch = 10_000): Promise<number> {
  const res = await db.query(
    `DELETE FROM idempotency_records WHERE ctid IN (
       SELECT ctid FROM idempotency_records WHERE expires_at < now() LIMIT $1)`,
    [batch],
  );
  return res.rowCount ?? 0;
}
