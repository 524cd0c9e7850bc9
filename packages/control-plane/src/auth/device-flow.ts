// The device-authorization flow's pure parts: user codes and what a poll answers.
import { randomInt } from "node:crypto";

/**
 * User codes: 4 letters without I, L, O (read aloud and typed by hand, so no
 * look-alikes), a dash, 4 digits 2–9. 23⁴·8⁴ ≈ 1.1·10⁹ codes.
 */
export const USER_CODE_RE = /^[A-HJKMNP-Z]{4}-[2-9]{4}$/;
const LETTERS = "ABCDEFGHJKMNPQRSTUVWXYZ";
const DIGITS = "23456789";

/** The poll interval a device starts with, and what each `slow_down` adds (spec §4.5). */
export const POLL_INTERVAL_SECONDS = 5;
export const SLOW_DOWN_STEP_SECONDS = 5;

/** A fresh random user code, e.g. `WDJB-4725`. */
export function newUserCode(): string {
  const pick = (alphabet: string, n: number) =>
    Array.from({ length: n }, () => alphabet[randomInt(alphabet.length)]).join("");
  return `${pick(LETTERS, 4)}-${pick(DIGITS, 4)}`;
}

/**
 * The canonical form of what a user typed: upper case, dash inserted, spaces
 * dropped; null when it cannot be a user code.
 */
export function normaliseUserCode(input: string): string | null {
  const compact = input.replace(/[\s-]/g, "").toUpperCase();
  if (compact.length !== 8) return null;
  const code = `${compact.slice(0, 4)}-${compact.slice(4)}`;
  return USER_CODE_RE.test(code) ? code : null;
}

export type DeviceStatus = "pending" | "approved" | "denied" | "expired" | "consumed";

/** The parts of a device_codes row a poll looks at. */
export interface DeviceCodeState {
  status: DeviceStatus;
  expiresAt: Date;
  pollIntervalSeconds: number;
  lastPolledAt: Date | null;
}

/** What one poll answers, and how the row changes. */
export type PollOutcome =
  | { kind: "issue"; update: { status: "consumed"; lastPolledAt: Date } }
  | { kind: "authorization_pending"; update: { lastPolledAt: Date } }
  | { kind: "slow_down"; update: { lastPolledAt: Date; pollIntervalSeconds: number } }
  | { kind: "expired_token"; update: { status: "expired"; lastPolledAt: Date } | null }
  | { kind: "access_denied"; update: null }
  | { kind: "invalid_token"; update: null };

/**
 * Decides a poll (RFC 8628 §3.5). Order matters:
 * - a used code is invalid, an expired one says so, a denied one says so;
 * - an approved code is exchanged at once even when polled early: the
 *   interval protects the server from busy loops, and this poll ends the loop;
 * - a pending code polled sooner than its interval gets `slow_down`, and the
 *   interval grows by 5 s for every later poll.
 */
export function decidePoll(state: DeviceCodeState, now: Date): PollOutcome {
  if (state.status === "consumed") return { kind: "invalid_token", update: null };
  if (state.status === "expired") return { kind: "expired_token", update: null };
  if (state.expiresAt <= now) {
    return { kind: "expired_token", update: { status: "expired", lastPolledAt: now } };
  }
  if (state.status === "denied") return { kind: "access_denied", update: null };
  if (state.status === "approved")
    return { kind: "issue", update: { status: "consumed", lastPolledAt: now } };
  const sinceLast =
    state.lastPolledAt === null ? Number.POSITIVE_INFINITY : now.getTime() - state.lastPolledAt.getTime();
  if (sinceLast < state.pollIntervalSeconds * 1000) {
    return {
      kind: "slow_down",
      update: { lastPolledAt: now, pollIntervalSeconds: state.pollIntervalSeconds + SLOW_DOWN_STEP_SECONDS },
    };
  }
  return { kind: "authorization_pending", update: { lastPolledAt: now } };
}
