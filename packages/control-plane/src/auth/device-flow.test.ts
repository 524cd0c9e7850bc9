import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  type DeviceCodeState,
  decidePoll,
  newUserCode,
  normaliseUserCode,
  USER_CODE_RE,
} from "./device-flow.ts";

describe("user codes", () => {
  test("every new code matches ^[A-HJKMNP-Z]{4}-[2-9]{4}$ and codes vary", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const code = newUserCode();
      assert.match(code, /^[A-HJKMNP-Z]{4}-[2-9]{4}$/);
      seen.add(code);
    }
    assert.ok(seen.size > 1990, `only ${seen.size} distinct codes in 2000`);
    // Every allowed letter and digit turns up; I, L, O, 0, 1 never do.
    const chars = new Set([...seen].join(""));
    for (const c of "ABCDEFGHJKMNPQRSTUVWXYZ23456789-") assert.ok(chars.has(c), c);
    for (const c of "ILO01") assert.ok(!chars.has(c), c);
  });

  test("what a user types normalises back to the code: any case, dash and spaces optional", () => {
    fc.assert(
      fc.property(fc.constant(null).map(newUserCode), fc.boolean(), fc.boolean(), (code, lower, nodash) => {
        let typed = lower ? code.toLowerCase() : code;
        if (nodash) typed = typed.replace("-", " ");
        assert.equal(normaliseUserCode(typed), code);
      }),
    );
    for (const bad of ["ABCD-1234", "ABCI-2345", "ABC-23456", "ABCDE-2345", "", "ABCD-234"]) {
      assert.equal(normaliseUserCode(bad), null, bad);
    }
    assert.ok(USER_CODE_RE.test("WDJB-4725"));
  });
});

describe("decidePoll", () => {
  const t0 = new Date("2030-01-01T00:00:00Z");
  const at = (s: number) => new Date(t0.getTime() + s * 1000);
  const base: DeviceCodeState = {
    status: "pending",
    expiresAt: at(600),
    pollIntervalSeconds: 5,
    lastPolledAt: null,
  };

  test("pending: the first poll waits, a poll within the interval slows down by 5 s", () => {
    assert.deepEqual(decidePoll(base, at(1)), {
      kind: "authorization_pending",
      update: { lastPolledAt: at(1) },
    });
    const fast = decidePoll({ ...base, lastPolledAt: at(1) }, at(4));
    assert.deepEqual(fast, { kind: "slow_down", update: { lastPolledAt: at(4), pollIntervalSeconds: 10 } });
    // After a slow_down the longer interval applies.
    assert.equal(
      decidePoll({ ...base, pollIntervalSeconds: 10, lastPolledAt: at(4) }, at(12)).kind,
      "slow_down",
    );
    assert.equal(
      decidePoll({ ...base, pollIntervalSeconds: 10, lastPolledAt: at(4) }, at(14)).kind,
      "authorization_pending",
    );
  });

  test("final states: approved issues once (even when early), denied and expired say so, consumed is invalid", () => {
    assert.equal(decidePoll({ ...base, status: "approved", lastPolledAt: at(1) }, at(2)).kind, "issue");
    assert.equal(decidePoll({ ...base, status: "denied" }, at(2)).kind, "access_denied");
    assert.equal(decidePoll({ ...base, status: "consumed" }, at(2)).kind, "invalid_token");
    assert.equal(decidePoll({ ...base, status: "expired" }, at(2)).kind, "expired_token");
    // Expiry wins over approval: a code approved but collected too late is dead.
    assert.deepEqual(decidePoll({ ...base, status: "approved" }, at(600)), {
      kind: "expired_token",
      update: { status: "expired", lastPolledAt: at(600) },
    });
  });
});
