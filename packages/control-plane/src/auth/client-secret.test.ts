import assert from "node:assert/strict";
import { test } from "node:test";
import { hashClientSecret, newClientSecret, verifyClientSecret } from "./client-secret.ts";

test("client secrets: argon2id on the hashing thread; right secret verifies, others do not", async () => {
  const secret = newClientSecret();
  assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
  const [hash, other] = await Promise.all([hashClientSecret(secret), hashClientSecret(secret)]);
  assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  assert.notEqual(hash, other, "every hash has its own salt");
  assert.equal(await verifyClientSecret(secret, hash), true);
  assert.equal(await verifyClientSecret(secret, other), true);
  assert.equal(await verifyClientSecret(`${secret}x`, hash), false);
  assert.equal(await verifyClientSecret(secret, null), false);
  assert.equal(await verifyClientSecret(secret, "$argon2id$garbage"), false);
});

test("hashing does not stall this thread: timers keep firing while a hash runs", async () => {
  await hashClientSecret(newClientSecret()); // warm: the wasm module is compiled
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    await hashClientSecret(newClientSecret());
  } finally {
    clearInterval(timer);
  }
  // A hash takes ≥ 50 ms; on this thread (warm) it runs in one synchronous stretch: 0 ticks.
  assert.ok(ticks >= 3, `only ${ticks} timer ticks during a hash`);
});
