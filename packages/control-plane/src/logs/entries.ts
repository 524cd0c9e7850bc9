// Pure rules for workload log entries (spec platform.md §7.7): nanosecond
// RFC 3339 timestamps, the 16 KiB line cut, and the batch bounds.
import { type FieldProblem, KernelError } from "@plfm/kernel";

/** A line longer than this many UTF-8 bytes is cut (the `…` included). */
export const MAX_LINE_BYTES = 16 * 1024;
export const MAX_BATCH_ENTRIES = 1000;
/** Sum of the UTF-8 bytes of a batch's lines, as sent. */
export const MAX_BATCH_LINE_BYTES = 1024 * 1024;

const ELLIPSIS = "…";
const ELLIPSIS_BYTES = Buffer.byteLength(ELLIPSIS);

// Nanoseconds fit an int64 up to 2262-04-11; the API's years stop before.
const MIN_YEAR = 1970;
const MAX_YEAR = 2261;
const RFC3339_RE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** The JSON schema pattern of an RFC 3339 timestamp with up to nanoseconds. */
export const RFC3339_NS_PATTERN = RFC3339_RE.source;

/**
 * Nanoseconds since the epoch of an RFC 3339 timestamp (fraction up to 9
 * digits, any offset), or null when it is malformed, names a day that does not
 * exist, or falls outside 1970–2261.
 */
export function parseTimestampNs(s: string): bigint | null {
  const m = RFC3339_RE.exec(s);
  if (!m) return null;
  const [y, mo, d, h, mi, sec] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as number[];
  if (y === undefined || mo === undefined || d === undefined) return null;
  if (h === undefined || mi === undefined || sec === undefined) return null;
  if (h > 23 || mi > 59 || sec > 59) return null;
  const local = Date.UTC(y, mo - 1, d, h, mi, sec);
  const check = new Date(local);
  // Date.UTC rolls Feb 30 over into March: a day that does not exist is refused.
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d) return null;
  let offsetMin = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offsetMin = (m[9] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  const ms = local - offsetMin * 60_000;
  const year = new Date(ms).getUTCFullYear();
  if (year < MIN_YEAR || year > MAX_YEAR) return null;
  const fraction = BigInt((m[7] ?? "").padEnd(9, "0"));
  return BigInt(ms) * 1_000_000n + fraction;
}

/** `2026-01-02T03:04:05.123456789Z`: always UTC, always nine fraction digits. */
export function formatTimestampNs(ns: bigint): string {
  const seconds = ns / 1_000_000_000n;
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, "0");
  const iso = new Date(Number(seconds) * 1000).toISOString();
  return `${iso.slice(0, 19)}.${fraction}Z`;
}

/** Milliseconds of a nanosecond time, rounded down (for timestamptz range bounds). */
export const nsToDate = (ns: bigint): Date => new Date(Number(ns / 1_000_000n));
export const dateToNs = (d: Date): bigint => BigInt(d.getTime()) * 1_000_000n;

/**
 * A line as stored: NUL (which Postgres text cannot hold) becomes U+FFFD, and
 * a line over {@link MAX_LINE_BYTES} is cut on a character boundary so that it
 * is at most that long with the `…` appended.
 */
export function cutLine(line: string): { line: string; truncated: boolean } {
  const clean = line.includes("\u0000") ? line.replaceAll("\u0000", "\uFFFD") : line;
  const buf = Buffer.from(clean, "utf8");
  if (buf.length <= MAX_LINE_BYTES) return { line: clean, truncated: false };
  let end = MAX_LINE_BYTES - ELLIPSIS_BYTES;
  // Back off continuation bytes (10xxxxxx) so no character is split.
  while (end > 0 && ((buf[end] as number) & 0xc0) === 0x80) end--;
  return { line: buf.subarray(0, end).toString("utf8") + ELLIPSIS, truncated: true };
}

export interface IncomingEntry {
  ts: string;
  instance_id: string;
  stream: "stdout" | "stderr";
  line: string;
  truncated?: boolean;
}

export interface StoredEntry {
  tsNs: bigint;
  instanceId: string;
  stream: "stdout" | "stderr";
  line: string;
  truncated: boolean;
}

/**
 * Checks a batch against §7.7's bounds and prepares its rows; throws
 * `invalid_argument` naming the offending field. The entry count is also in
 * the request schema; it is checked here too so the rule holds without it.
 */
export function prepareBatch(entries: readonly IncomingEntry[]): StoredEntry[] {
  if (entries.length > MAX_BATCH_ENTRIES) {
    throw batchProblem(`A batch holds at most ${MAX_BATCH_ENTRIES} entries.`, {
      field: "entries",
      code: "too_many_entries",
      message: `at most ${MAX_BATCH_ENTRIES} entries`,
    });
  }
  let bytes = 0;
  for (const e of entries) bytes += Buffer.byteLength(e.line, "utf8");
  if (bytes > MAX_BATCH_LINE_BYTES) {
    throw batchProblem("A batch's lines add up to at most 1 MiB; split it.", {
      field: "entries",
      code: "batch_too_large",
      message: `lines total ${bytes} bytes, at most ${MAX_BATCH_LINE_BYTES}`,
    });
  }
  const bad: FieldProblem[] = [];
  const out: StoredEntry[] = [];
  entries.forEach((e, i) => {
    const tsNs = parseTimestampNs(e.ts);
    if (tsNs === null) {
      bad.push({ field: `entries.${i}.ts`, code: "format", message: "an RFC 3339 time, 1970–2261" });
      return;
    }
    const cut = cutLine(e.line);
    out.push({
      tsNs,
      instanceId: e.instance_id,
      stream: e.stream,
      line: cut.line,
      truncated: cut.truncated || e.truncated === true,
    });
  });
  if (bad.length > 0) throw batchProblem("Some entries have an invalid ts.", ...bad.slice(0, 20));
  return out;
}

function batchProblem(message: string, ...details: FieldProblem[]): KernelError {
  return new KernelError("invalid_argument", message, { details });
}
