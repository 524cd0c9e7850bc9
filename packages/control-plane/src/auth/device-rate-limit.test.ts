// Spec §4.5 rate limits on the device flow: 10 starts per minute per IP.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DEVICE_START_LIMIT_PER_MINUTE } from "./device-routes.ts";
import { assertProblem, type Harness, startHarness } from "./test-kit.ts";

let h: Harness;
before(async () => {
  h = await startHarness({});
});
after(() => h?.close());

test("device start: the 11th start from one address within a minute is 429 with Retry-After", async () => {
  for (let i = 0; i < DEVICE_START_LIMIT_PER_MINUTE; i++) {
    const r = await h.call("POST", "/v1/auth/device/start", { body: { client_name: `cli ${i}` } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  const codes = await h.db.pool.query("SELECT count(*)::int AS n FROM device_codes");
  const limited = await h.call("POST", "/v1/auth/device/start", { body: { client_name: "one more" } });
  assertProblem(limited, 429, "rate_limited");
  const after = Number(limited.headers.get("retry-after"));
  assert.ok(after >= 1 && after <= 60, `Retry-After ${after}`);
  assert.equal(limited.body.retryable, true);
  const again = await h.db.pool.query("SELECT count(*)::int AS n FROM device_codes");
  assert.equal(again.rows[0].n, codes.rows[0].n, "a refused start writes nothing");
});
