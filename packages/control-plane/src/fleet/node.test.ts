import assert from "node:assert/strict";
import { isIPv6 } from "node:net";
import { test } from "node:test";
import { nodeOverlayAddress } from "./node.ts";

test("node overlay addresses are RFC 5952 /128s inside fd70:6c66::/64", () => {
  assert.equal(nodeOverlayAddress(1n), "fd70:6c66::1");
  assert.equal(nodeOverlayAddress(0xabcn), "fd70:6c66::abc");
  assert.equal(nodeOverlayAddress(0x10000n), "fd70:6c66::1:0");
  assert.equal(nodeOverlayAddress(0x1_0000_0000_0000n), "fd70:6c66:0:0:1::");
  assert.equal(nodeOverlayAddress((1n << 64n) - 1n), "fd70:6c66::ffff:ffff:ffff:ffff");
  for (const n of [1n, 2n, 65535n, 1n << 40n]) assert.ok(isIPv6(nodeOverlayAddress(n)));
  assert.throws(() => nodeOverlayAddress(0n), RangeError);
  assert.throws(() => nodeOverlayAddress(1n << 64n), RangeError);
});
