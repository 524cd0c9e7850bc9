import type { Queryable } from "../db/pool.ts";
import { KernelError } from "../errors.ts";
import type { StoredEvent } from "../events.ts";
import { decodeCursor, encodeCursor, type Position, START } from "../position.ts";
import { type EventFilter, headPosition, readBatch } from "../read.ts";

export const FEED_DEFAULT_LIMIT = 50;
export const FEED_MAX_LIMIT = 200;

export interface ReadFeedOptions {
  /** Opaque cursor from a previous page or stream; absent (or empty) = the beginning of the log. */
  after?: string | undefined;
  /** Page size: default 50, capped at 200. */
  limit?: number | undefined;
  filter?: EventFilter | undefined;
}

/** One page of the change feed, the polling twin of the SSE stream. */
export interface FeedPage {
  items: StoredEvent[];
  /**
   * Always set: it advances past every scanned row even when `items` is
   * empty, so a consumer with a sparse filter never rescans what it has seen.
   */
  next_cursor: string;
}

/**
 * Reads one page of the change feed after `after`, in `(tx_id, event_id)`
 * order and only below the snapshot horizon, so an event whose transaction
 * commits late is never skipped (see readBatch). Throws `invalid_cursor` for a
 * malformed cursor and `invalid_argument` for a limit below 1.
 */
export async function readFeed(db: Queryable, options: ReadFeedOptions = {}): Promise<FeedPage> {
  const after = parseAfter(options.after);
  const limit = feedLimit(options.limit);
  const batch = await readBatch(db, after, limit, options.filter ?? {});
  return { items: batch.events, next_cursor: encodeCursor(batch.next) };
}

/** The cursor a reader that wants only new events ("start at head") starts after. */
export async function feedHeadCursor(db: Queryable): Promise<string> {
  return encodeCursor(await headPosition(db));
}

/** Decodes an optional client cursor: absent or empty means the beginning. */
export function parseAfter(cursor: string | undefined | null): Position {
  return cursor === undefined || cursor === null || cursor === "" ? START : decodeCursor(cursor);
}

/** Applies the spec's list limit rule: default 50, at most 200, at least 1. */
export function feedLimit(limit: number | undefined): number {
  if (limit === undefined) return FEED_DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new KernelError("invalid_argument", "limit must be a positive integer.", {
      details: [{ field: "limit", message: "must be an integer ≥ 1" }],
    });
  }
  return Math.min(limit, FEED_MAX_LIMIT);
}
