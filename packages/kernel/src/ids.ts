import { monotonicFactory } from "ulid";
import { type Clock, systemClock } from "./clock.ts";

const ULID_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const PREFIX_RE = /^[a-z][a-z0-9]*$/;
const nextUlid = monotonicFactory();

/** A new id `<prefix>_<ULID>`; ULIDs from one process are strictly increasing. */
export function newId(prefix: string, clock: Clock = systemClock): string {
  if (!PREFIX_RE.test(prefix)) throw new Error(`bad id prefix: ${prefix}`);
  return `${prefix}_${nextUlid(clock.now().getTime())}`;
}

/** Whether `value` is a well-formed id, optionally of the given prefix. */
export function isId(value: unknown, prefix?: string): value is string {
  if (typeof value !== "string") return false;
  const at = value.lastIndexOf("_");
  if (at <= 0) return false;
  const p = value.slice(0, at);
  return PREFIX_RE.test(p) && (prefix === undefined || p === prefix) && ULID_RE.test(value.slice(at + 1));
}
