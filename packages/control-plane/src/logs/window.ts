// The time window of a tenant log query (spec platform.md §4.4, §7.7): it
// spans at most one hour; the default is the last hour.
import { KernelError } from "@plfm/kernel";
import { parseTimestampNs } from "./entries.ts";

export const MAX_SPAN_NS = 3_600_000_000_000n;

export interface Window {
  /** Inclusive. */
  sinceNs: bigint;
  /** Exclusive. */
  untilNs: bigint;
}

/**
 * Neither bound: the last hour. Only `until`: the hour before it. Only
 * `since`: from it to now, so an old `since` is refused rather than silently
 * narrowed. Both: as given. `invalid_argument` when a bound is malformed,
 * `since` is not before `until`, or the span exceeds one hour.
 */
export function resolveWindow(since: string | undefined, until: string | undefined, nowNs: bigint): Window {
  const parse = (field: string, v: string | undefined): bigint | undefined => {
    if (v === undefined) return undefined;
    const ns = parseTimestampNs(v);
    if (ns === null) throw invalid(field, "format", `${field} must be an RFC 3339 time.`);
    return ns;
  };
  const s = parse("since", since);
  const u = parse("until", until);
  const untilNs = u ?? nowNs;
  const sinceNs = s ?? untilNs - MAX_SPAN_NS;
  if (sinceNs >= untilNs) throw invalid("since", "order", "since must be before until (or now).");
  if (untilNs - sinceNs > MAX_SPAN_NS) {
    throw invalid(
      "since",
      "span_too_long",
      "A log query spans at most one hour (since to until, or to now).",
    );
  }
  return { sinceNs, untilNs };
}

function invalid(field: string, code: string, message: string): KernelError {
  return new KernelError("invalid_argument", message, { details: [{ field, code, message }] });
}
