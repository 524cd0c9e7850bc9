import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createTestDatabase, type TestDatabase } from "@plfm/testing";
import { Notifier } from "./notifier.ts";

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase({ poolSize: 2 });
});
after(() => db?.drop());

const listeners = async (): Promise<number> =>
  (
    await db.pool.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'plfm-notifier' AND datname = current_database()",
    )
  ).rows[0].n;

test("stop() during a connect leaves no LISTEN connection behind (it would hold the process open)", async () => {
  const notifier = new Notifier(db.url);
  const subscribed = notifier.subscribe("plfm_test_channel", () => {});
  await notifier.stop(); // the connect above is still in flight
  await subscribed;
  for (let i = 0; i < 100 && (await listeners()) > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await listeners(), 0);
});

test("a running notifier is stopped with its connection", async () => {
  const notifier = new Notifier(db.url);
  let woken = 0;
  await notifier.subscribe("plfm_test_channel", () => woken++);
  assert.equal(await listeners(), 1);
  await db.pool.query("NOTIFY plfm_test_channel, 'x'");
  for (let i = 0; i < 100 && woken < 2; i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(woken >= 2, "the connect wake-up and the notification");
  await notifier.stop();
  for (let i = 0; i < 100 && (await listeners()) > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await listeners(), 0);
});
