// The pure rules of workload logs: timestamps, the line cut, batch bounds,
// query windows, and how a scan moves its cursor.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isKernelError } from "@plfm/kernel";
import fc from "fast-check";
import { cutLine, formatTimestampNs, MAX_LINE_BYTES, parseTimestampNs, prepareBatch } from "./entries.ts";
import { type ScanRow, scanFromRows } from "./read.ts";
import { MAX_SPAN_NS, resolveWindow } from "./window.ts";

test("timestamps: nanoseconds survive parse → format → parse; offsets apply; bad days are refused", () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 9_000_000_000_000_000_000n }), (ns) => {
      assert.equal(parseTimestampNs(formatTimestampNs(ns)), ns);
    }),
  );
  assert.equal(parseTimestampNs("1970-01-01T01:00:00.5+01:00"), 500_000_000n);
  assert.equal(formatTimestampNs(1n), "1970-01-01T00:00:00.000000001Z");
  for (const bad of [
    "2026-02-30T00:00:00Z",
    "2026-01-01T24:00:00Z",
    "2026-01-01T00:00:00",
    "2026-01-01T00:00:00.1234567890Z",
    "1969-12-31T23:59:59Z",
    "2262-01-01T00:00:00Z",
  ]) {
    assert.equal(parseTimestampNs(bad), null, bad);
  }
});

test("cutLine: at most 16 KiB with the ellipsis, never splitting a character", () => {
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 12_000 }), (raw) => {
      const s = raw.replaceAll("\u0000", "");
      const { line, truncated } = cutLine(s);
      assert.ok(Buffer.byteLength(line) <= MAX_LINE_BYTES);
      assert.equal(truncated, Buffer.byteLength(s) > MAX_LINE_BYTES);
      if (!truncated) assert.equal(line, s);
      else assert.ok(s.startsWith(line.slice(0, -1)) && line.endsWith("…"));
    }),
    { numRuns: 50 },
  );
});

test("prepareBatch: 1000 entries and 1 MiB of lines at most", () => {
  const e = (line: string) => ({
    ts: "2026-01-01T00:00:00Z",
    instance_id: "i",
    stream: "stdout" as const,
    line,
  });
  assert.equal(prepareBatch(Array.from({ length: 1000 }, () => e("x"))).length, 1000);
  const refused = (f: () => unknown, code: string) =>
    assert.throws(f, (err) => isKernelError(err, "invalid_argument") && err.details?.[0]?.code === code);
  refused(() => prepareBatch(Array.from({ length: 1001 }, () => e("x"))), "too_many_entries");
  refused(() => prepareBatch(Array.from({ length: 65 }, () => e("x".repeat(16_200)))), "batch_too_large");
});

test("resolveWindow: default last hour; at most one hour; since before until", () => {
  const now = 10n * MAX_SPAN_NS;
  assert.deepEqual(resolveWindow(undefined, undefined, now), { sinceNs: now - MAX_SPAN_NS, untilNs: now });
  const u = formatTimestampNs(now - 5n);
  assert.deepEqual(resolveWindow(undefined, u, now), { sinceNs: now - 5n - MAX_SPAN_NS, untilNs: now - 5n });
  const longAgo = formatTimestampNs(now - MAX_SPAN_NS - 1n);
  assert.throws(
    () => resolveWindow(longAgo, undefined, now),
    (e) => isKernelError(e, "invalid_argument"),
  );
  assert.throws(
    () => resolveWindow(u, u, now),
    (e) => isKernelError(e, "invalid_argument"),
  );
});

const row = (tx: number, id: number, hit: boolean, horizon = 100): ScanRow => ({
  horizon: String(horizon),
  id: String(id),
  tx_id: String(tx),
  hit,
  ts_ns: "0",
  instance_id: "i",
  process_type: "web",
  stream: "stdout",
  line: hit ? `l${id}` : null,
  truncated: false,
});
const empty = (horizon: number): ScanRow => ({ ...row(0, 0, false, horizon), id: null });

test("scanFromRows: the cursor passes skipped rows and reaches the horizon; stops at maxItems", () => {
  const start = { txId: 5n, eventId: 0n };
  const sparse = scanFromRows([row(10, 1, false), row(11, 2, false)], start, 10, 10);
  assert.deepEqual([sparse.items.length, sparse.skipped, sparse.full], [0, true, false]);
  assert.deepEqual(sparse.next, { txId: 100n, eventId: 0n });
  assert.deepEqual(scanFromRows([empty(50)], start, 10, 10).next, { txId: 50n, eventId: 0n });
  const capped = scanFromRows([row(10, 1, true), row(10, 2, false), row(11, 3, true)], start, 10, 1);
  assert.deepEqual(
    capped.items.map((i) => i.item.line),
    ["l1"],
  );
  assert.deepEqual([capped.full, capped.next], [true, { txId: 10n, eventId: 2n }]);
  const fullScan = scanFromRows([row(10, 1, false), row(10, 2, true)], start, 2, 10);
  assert.deepEqual([fullScan.full, fullScan.next], [true, { txId: 10n, eventId: 2n }]);
});
