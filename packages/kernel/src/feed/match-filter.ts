import type { StoredEvent } from "../events.ts";
import type { EventFilter } from "../read.ts";

/**
 * The in-memory twin of readBatch's SQL filter: a live subscriber must see
 * exactly what a catch-up read with the same filter would return, or a client
 * would get different events depending on whether it was live or resuming.
 * Hence the same rules: an absent member matches everything, a given list
 * (even an empty one) must contain the value, and a given id never matches a
 * null column (SQL `NULL = 'x'` is not true).
 */
export function matchesFilter(filter: EventFilter, e: StoredEvent): boolean {
  // `!= null` mirrors the SQL `$n IS NULL` test, which treats null like absent.
  if (filter.aggregateTypes != null && !filter.aggregateTypes.includes(e.aggregateType)) return false;
  if (filter.eventTypes != null && !filter.eventTypes.includes(e.eventType)) return false;
  if (filter.orgId != null && e.orgId !== filter.orgId) return false;
  if (filter.appId != null && e.appId !== filter.appId) return false;
  if (filter.envId != null && e.envId !== filter.envId) return false;
  return true;
}
