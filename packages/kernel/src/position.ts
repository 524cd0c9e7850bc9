import { KernelError } from "./errors.ts";

/**
 * A place in the global order of the log: events sort by (txId, eventId).
 * A position `(H, 0)` means "every event of a transaction below H": that is
 * what readers record after scanning up to the snapshot horizon H.
 */
export interface Position {
  readonly txId: bigint;
  readonly eventId: bigint;
}

export const START: Position = Object.freeze({ txId: 0n, eventId: 0n });

export function comparePositions(a: Position, b: Position): number {
  if (a.txId !== b.txId) return a.txId < b.txId ? -1 : 1;
  if (a.eventId !== b.eventId) return a.eventId < b.eventId ? -1 : 1;
  return 0;
}

export function maxPosition(a: Position, b: Position): Position {
  return comparePositions(a, b) >= 0 ? a : b;
}

const MAX_INT64 = 2n ** 63n - 1n;
const CURSOR_RE = /^c1\.([0-9a-z]+)\.([0-9a-z]+)$/;

/** Opaque to clients; versioned so the encoding can change. */
export function encodeCursor(p: Position): string {
  return `c1.${p.txId.toString(36)}.${p.eventId.toString(36)}`;
}

/** Parses a client cursor; anything malformed is `invalid_cursor`. */
export function decodeCursor(cursor: string): Position {
  const m = CURSOR_RE.exec(cursor);
  if (!m || m[1] === undefined || m[2] === undefined) {
    throw new KernelError("invalid_cursor", "The cursor is malformed.");
  }
  return { txId: parseBase36(m[1]), eventId: parseBase36(m[2]) };
}

function parseBase36(s: string): bigint {
  if (s.length > 14) throw new KernelError("invalid_cursor", "The cursor is out of range.");
  let n = 0n;
  for (const ch of s) n = n * 36n + BigInt(Number.parseInt(ch, 36));
  // Both halves are bigints in SQL; a larger value must not reach the database.
  if (n > MAX_INT64) throw new KernelError("invalid_cursor", "The cursor is out of range.");
  return n;
}
