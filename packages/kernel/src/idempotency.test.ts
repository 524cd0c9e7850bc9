import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { canonicalJson, requestHash } from "./idempotency.ts";

// Reorders every object's keys, recursively.
function shuffleKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v, i) => shuffleKeys(v, seed + i));
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    const rotated = entries.map((_, i) => entries[(i + seed) % entries.length] as [string, unknown]);
    return Object.fromEntries(rotated.map(([k, v]) => [k, shuffleKeys(v, seed + 1)]));
  }
  return value;
}

test("the request hash ignores key order and nothing else", () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.nat(20), (body, seed) => {
      assert.equal(canonicalJson(shuffleKeys(body, seed)), canonicalJson(body));
      assert.equal(requestHash("e", shuffleKeys(body, seed)), requestHash("e", body));
    }),
  );
});

test("the endpoint and every value are part of the hash", () => {
  assert.notEqual(requestHash("apps.create", { name: "a" }), requestHash("apps.delete", { name: "a" }));
  assert.notEqual(requestHash("e", { name: "a" }), requestHash("e", { name: "b" }));
  assert.notEqual(requestHash("e", { a: [1, 2] }), requestHash("e", { a: [2, 1] }));
  assert.match(requestHash("e", {}), /^[0-9a-f]{64}$/);
});
