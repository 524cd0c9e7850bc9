import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "./clock.ts";
import { isId, newId } from "./ids.ts";

test("ids are <prefix>_<ULID> and increase within a process", () => {
  const ids = Array.from({ length: 1000 }, () => newId("app"));
  for (const id of ids) assert.match(id, /^app_[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
});

test("the ULID's time comes from the injected clock", () => {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const id = newId("dep", clock);
  // The first ten ULID characters are the millisecond timestamp in Crockford base32.
  const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const ms = [...id.slice(4, 14)].reduce((n, ch) => n * 32 + alphabet.indexOf(ch), 0);
  assert.equal(ms, Date.UTC(2030, 0, 1));
});

test("isId checks shape and prefix", () => {
  const id = newId("env");
  assert.equal(isId(id), true);
  assert.equal(isId(id, "env"), true);
  assert.equal(isId(id, "app"), false);
  for (const bad of [
    "env_",
    "env_123",
    "ENV_01HZZZZZZZZZZZZZZZZZZZZZZZ",
    "_01HZZZZZZZZZZZZZZZZZZZZZZZ",
    42,
    null,
  ]) {
    assert.equal(isId(bad), false, String(bad));
  }
  assert.throws(() => newId("Bad-Prefix"));
});
