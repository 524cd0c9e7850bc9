import assert from "node:assert/strict";
import { test } from "node:test";
import { RateLimiter } from "./rate-limit.ts";

test("a fixed window per key: the limit passes, the next hit waits for the window's end", () => {
  let now = 1_000_000;
  const rl = new RateLimiter(3, 60_000, () => now);
  for (let i = 0; i < 3; i++) assert.equal(rl.hit("a"), 0);
  assert.equal(rl.hit("a"), 60);
  now += 45_000;
  assert.equal(rl.hit("a"), 15);
  assert.equal(rl.hit("b"), 0, "keys are counted apart");
  now += 15_000;
  assert.equal(rl.hit("a"), 0, "a new window starts");
});

test("ended windows are swept once there are too many keys", () => {
  let now = 0;
  const rl = new RateLimiter(1, 1000, () => now, 100);
  for (let i = 0; i < 100; i++) rl.hit(`k${i}`);
  assert.equal(rl.size, 100);
  now = 1000;
  rl.hit("fresh");
  assert.equal(rl.size, 1);
});
