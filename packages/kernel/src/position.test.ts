import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isKernelError } from "./errors.ts";
import { comparePositions, decodeCursor, encodeCursor, maxPosition } from "./position.ts";

const position = fc.record({
  txId: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
  eventId: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
});

test("cursors round-trip and keep no other form", () => {
  fc.assert(
    fc.property(position, (p) => {
      const c = encodeCursor(p);
      assert.deepEqual(decodeCursor(c), { txId: p.txId, eventId: p.eventId });
      assert.equal(encodeCursor(decodeCursor(c)), c);
    }),
  );
});

test("comparePositions orders by tx first, then event id", () => {
  fc.assert(
    fc.property(position, position, (a, b) => {
      const c = comparePositions(a, b);
      const expected =
        a.txId !== b.txId
          ? a.txId < b.txId
            ? -1
            : 1
          : a.eventId === b.eventId
            ? 0
            : a.eventId < b.eventId
              ? -1
              : 1;
      assert.equal(c, expected);
      assert.equal(comparePositions(b, a), -c || 0);
      assert.equal(
        comparePositions(maxPosition(a, b), a) >= 0 && comparePositions(maxPosition(a, b), b) >= 0,
        true,
      );
    }),
  );
});

test("malformed cursors are invalid_cursor", () => {
  for (const bad of [
    "",
    "c1",
    "c1.",
    "c1.a",
    "c2.1.1",
    "c1.1.1.1",
    "c1.-1.1",
    "c1.1.!",
    `c1.${"z".repeat(15)}.1`,
  ]) {
    assert.throws(
      () => decodeCursor(bad),
      (e) => isKernelError(e, "invalid_cursor"),
      bad,
    );
  }
});
