import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { ipv4ToNumber, numberToIpv4, parseIpv4Pool, pickFreeAddress, poolSize } from "./ipv4-pool.ts";

describe("IPv4 pool", () => {
  test("addresses round-trip; leading zeros and out-of-range octets are refused", () => {
    assert.equal(ipv4ToNumber("203.0.113.7"), 0xcb007107);
    assert.equal(numberToIpv4(0xcb007107), "203.0.113.7");
    assert.equal(numberToIpv4(0xffffffff), "255.255.255.255");
    for (const bad of ["1.2.3", "1.2.3.4.5", "01.2.3.4", "256.1.1.1", "a.b.c.d", " 1.2.3.4"]) {
      assert.equal(ipv4ToNumber(bad), null, bad);
    }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => ipv4ToNumber(numberToIpv4(n)) === n),
    );
  });

  test("parses addresses and blocks, merging overlaps; empty is no pool", () => {
    assert.deepEqual(parseIpv4Pool(undefined), []);
    assert.deepEqual(parseIpv4Pool(" , "), []);
    const pool = parseIpv4Pool("198.51.100.0/30, 198.51.100.4, 198.51.100.2, 203.0.113.0/32");
    assert.deepEqual(
      pool.map((r) => [numberToIpv4(r.first), numberToIpv4(r.last)]),
      [
        ["198.51.100.0", "198.51.100.4"],
        ["203.0.113.0", "203.0.113.0"],
      ],
    );
    assert.equal(poolSize(pool), 6);
    assert.equal(poolSize(parseIpv4Pool("10.0.0.0/8")), 2 ** 24);
    for (const bad of [
      "10.0.0.1/8",
      "10.0.0.0/33",
      "10.0.0.0/",
      "10.0.0.0/8/1",
      "example.com",
      "10.0.0.0/08",
    ]) {
      assert.throws(() => parseIpv4Pool(bad), Error, bad);
    }
  });

  test("pickFreeAddress gives the lowest free pool address, or null when none is free", () => {
    const pool = parseIpv4Pool("198.51.100.0/30, 203.0.113.9");
    const n = (s: string) => ipv4ToNumber(s) as number;
    assert.equal(pickFreeAddress(pool, new Set()), n("198.51.100.0"));
    assert.equal(pickFreeAddress(pool, new Set([n("198.51.100.0"), n("198.51.100.2")])), n("198.51.100.1"));
    const allButLast = new Set(["198.51.100.0", "198.51.100.1", "198.51.100.2", "198.51.100.3"].map(n));
    assert.equal(pickFreeAddress(pool, allButLast), n("203.0.113.9"));
    assert.equal(pickFreeAddress(pool, new Set([...allButLast, n("203.0.113.9")])), null);
    assert.equal(pickFreeAddress([], new Set()), null);
  });

  test("property: the pick is in the pool, not taken, and no lower free pool address exists", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 8 })), { maxLength: 4 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 80 }), { maxLength: 60 }),
        (blocks, takenList) => {
          // Runs of consecutive single addresses, so the pool has gaps and merged neighbours.
          const entries = blocks.flatMap(([start, len]) =>
            Array.from({ length: len + 1 }, (_, i) => numberToIpv4(start + i)),
          );
          const pool = parseIpv4Pool(entries.join(","));
          const taken = new Set(takenList);
          // Membership from the entries themselves, not from the merged ranges under test.
          const members = new Set(entries.map(ipv4ToNumber));
          const inPool = (x: number) => members.has(x);
          const pick = pickFreeAddress(pool, taken);
          const free = Array.from({ length: 81 }, (_, i) => i).filter((x) => inPool(x) && !taken.has(x));
          assert.equal(pick, free.length > 0 ? free[0] : null);
        },
      ),
    );
  });
});
