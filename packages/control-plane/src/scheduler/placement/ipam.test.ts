import assert from "node:assert/strict";
import { isIPv6 } from "node:net";
import { test } from "node:test";
import fc from "fast-check";
import { createAllocator, IPAM_COOLDOWN_MS, instanceOverlayAddress } from "./ipam.ts";
import { emptyIpam, NOW } from "./test-kit.ts";

/** Independent expansion of an address to its 128-bit value. */
function toBigInt(address: string): bigint {
  const [head = "", tail] = address.split("::");
  const h = head ? head.split(":") : [];
  const t = tail === undefined ? [] : tail ? tail.split(":") : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

const PREFIX = 0xfd706c6600000001n << 64n;

test("instance addresses are RFC 5952 text inside fd70:6c66:0:1::/64 (compliance 46)", () => {
  assert.equal(instanceOverlayAddress(1), "fd70:6c66:0:1::1");
  assert.equal(instanceOverlayAddress(0xabc), "fd70:6c66:0:1::abc");
  assert.equal(instanceOverlayAddress(0x10000), "fd70:6c66:0:1::1:0");
  assert.equal(instanceOverlayAddress(2 ** 48), "fd70:6c66:0:1:1::");
  assert.throws(() => instanceOverlayAddress(0), RangeError);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (n) => {
      const a = instanceOverlayAddress(n);
      assert.ok(isIPv6(a));
      assert.equal(toBigInt(a), PREFIX | BigInt(n));
      assert.doesNotMatch(a, /(^|:)0[0-9a-f]/);
    }),
  );
});

test("allocation skips used and cooling addresses, reuses those released ≥ 24 h ago", () => {
  const ipam = emptyIpam({
    used: new Set([instanceOverlayAddress(1), instanceOverlayAddress(3)]),
    cooling: new Map([
      [instanceOverlayAddress(2), NOW - IPAM_COOLDOWN_MS + 1],
      [instanceOverlayAddress(4), NOW - IPAM_COOLDOWN_MS],
    ]),
  });
  const a = createAllocator(ipam, NOW);
  assert.equal(a.next(), instanceOverlayAddress(4));
  assert.equal(a.next(), instanceOverlayAddress(5));
  assert.equal(a.hint(), 6);
});

test("the hint starts the search and wraps to 1; a full pool returns null", () => {
  const a = createAllocator(emptyIpam({ next_hint: 3, max_suffix: 3 }), NOW);
  assert.deepEqual(
    [a.next(), a.next(), a.next(), a.next()],
    [instanceOverlayAddress(3), instanceOverlayAddress(1), instanceOverlayAddress(2), null],
  );
  const bogusHint = createAllocator(emptyIpam({ next_hint: -5 }), NOW);
  assert.equal(bogusHint.next(), instanceOverlayAddress(1));
});

test("random pools: addresses unique, never used or cooling, lowest free first", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 1, max: 64 }), { maxLength: 40 }),
      fc.array(fc.integer({ min: 0, max: 2 * IPAM_COOLDOWN_MS }), { maxLength: 40 }),
      fc.integer({ min: 1, max: 80 }),
      (suffixes, ages, want) => {
        const used = new Set<string>();
        const cooling = new Map<string, number>();
        suffixes.forEach((s, i) => {
          const age = ages[i];
          if (age === undefined) used.add(instanceOverlayAddress(s));
          else cooling.set(instanceOverlayAddress(s), NOW - age);
        });
        const a = createAllocator({ used, cooling, max_suffix: 64 }, NOW);
        const got: string[] = [];
        for (let k = 0; k < want; k++) {
          const x = a.next();
          if (x === null) break;
          got.push(x);
        }
        const free = [];
        for (let s = 1; s <= 64; s++) {
          const addr = instanceOverlayAddress(s);
          const rel = cooling.get(addr);
          if (!used.has(addr) && (rel === undefined || NOW - rel >= IPAM_COOLDOWN_MS)) free.push(addr);
        }
        assert.deepEqual(got, free.slice(0, want));
      },
    ),
    { numRuns: 500 },
  );
});
