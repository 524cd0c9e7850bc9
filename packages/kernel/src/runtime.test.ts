import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createTestDatabase, type TestDatabase } from "@plfm/testing";
import { append } from "./append.ts";
import { ManualClock } from "./clock.ts";
import { newId } from "./ids.ts";
import type { Projection } from "./projections/projection.ts";
import { KernelRuntime } from "./runtime.ts";

const meta = { actorType: "system", actorId: "test", requestId: "req_test" };
let db: TestDatabase;
const runtimes: KernelRuntime[] = [];

// Counts events per aggregate; idempotent through last_seq.
const counter: Projection = {
  name: "runtime_counter",
  tables: ["runtime_counter"],
  async apply(client, events) {
    for (const e of events) {
      await client.query(
        `INSERT INTO runtime_counter (id, n, last_seq) VALUES ($1, 1, $2)
         ON CONFLICT (id) DO UPDATE SET n = runtime_counter.n + 1, last_seq = EXCLUDED.last_seq
         WHERE runtime_counter.last_seq < EXCLUDED.last_seq`,
        [e.aggregateId, e.aggregateSeq],
      );
    }
  },
};

before(async () => {
  db = await createTestDatabase({ poolSize: 12 });
  await db.pool.query(
    "CREATE TABLE runtime_counter (id text PRIMARY KEY, n int NOT NULL, last_seq int NOT NULL)",
  );
});
after(async () => {
  for (const r of runtimes) await r.stop();
  await db.drop();
});

function runtime(cleanupIntervalMs = 60_000): KernelRuntime {
  const r = new KernelRuntime({
    pool: db.pool,
    url: db.url,
    projections: [counter],
    leaseName: "test-singletons",
    cleanupIntervalMs,
  });
  runtimes.push(r);
  return r;
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

test("two replicas: one runs the projections, both answer read-your-writes, the other takes over", async () => {
  const a = runtime();
  const b = runtime();
  await a.start();
  await b.start();
  await until("a leader", () => a.isLeader || b.isLeader);
  await sleep(300);
  assert.notEqual(a.isLeader, b.isLeader, "exactly one replica leads");
  const [leader, standby] = a.isLeader ? [a, b] : [b, a];

  const id = newId("thing");
  const r1 = await append(db.pool, {
    meta,
    events: [{ aggregateType: "thing", aggregateId: id, eventType: "thing.touched", payload: {} }],
  });
  assert.equal(r1.replayed, false);
  if (r1.replayed) return;
  // The standby's watcher sees the leader's checkpoint too.
  await standby.watcher.waitFor(r1.position, [counter.name], { timeoutMs: 5000 });
  const { rows } = await db.pool.query("SELECT n FROM runtime_counter WHERE id = $1", [id]);
  assert.equal(rows[0]?.n, 1);

  const stoppedAt = Date.now();
  await leader.stop();
  runtimes.splice(runtimes.indexOf(leader), 1);
  await until("the standby to take over", () => standby.isLeader);
  assert.ok(Date.now() - stoppedAt < 10_000);
  const r2 = await append(db.pool, {
    meta,
    events: [{ aggregateType: "thing", aggregateId: id, eventType: "thing.touched", payload: {} }],
  });
  if (r2.replayed) return assert.fail("not a replay");
  await standby.watcher.waitFor(r2.position, [counter.name], { timeoutMs: 5000 });
  const after2 = await db.pool.query("SELECT n FROM runtime_counter WHERE id = $1", [id]);
  assert.equal(after2.rows[0]?.n, 2);
});

test("the leader cleans expired idempotency records and keeps live ones", async () => {
  const old = new ManualClock(Date.now() - 25 * 60 * 60 * 1000);
  const keys = { expired: newId("key"), live: newId("key") };
  for (const [which, clock] of [
    ["expired", old],
    ["live", undefined],
  ] as const) {
    await append(db.pool, {
      meta,
      events: [
        { aggregateType: "thing", aggregateId: newId("thing"), eventType: "thing.touched", payload: {} },
      ],
      idempotency: {
        scope: "org_1",
        actorId: "u",
        endpoint: "e",
        key: keys[which],
        requestHash: "h",
        response: {},
      },
      ...(clock ? { clock } : {}),
    });
  }
  const count = async (key: string) =>
    (
      await db.pool.query("SELECT count(*)::int AS n FROM idempotency_records WHERE idempotency_key = $1", [
        key,
      ])
    ).rows[0].n as number;
  assert.equal(await count(keys.expired), 1);
  for (const r of runtimes) await r.stop();
  runtimes.length = 0;
  const r = runtime(50);
  await r.start();
  await until("the expired record to go", async () => (await count(keys.expired)) === 0);
  assert.equal(await count(keys.live), 1, "a record younger than 24 h stays");
  // The events of a cleaned record stay: the log is kept forever.
  const events = await db.pool.query("SELECT count(*)::int AS n FROM events WHERE idempotency_key = $1", [
    keys.expired,
  ]);
  assert.equal(events.rows[0].n, 1);
});

test("leader tasks run on the leader only, restart after a failure, and end with the runtime", async () => {
  const runs: string[] = [];
  let ended = 0;
  const task = async (signal: AbortSignal) => {
    runs.push("start");
    if (runs.length === 1) throw new Error("first run fails");
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    ended++;
  };
  const r = new KernelRuntime({
    pool: db.pool,
    url: db.url,
    projections: [],
    leaseName: "test-leader-tasks",
    leaderTasks: [task],
  });
  const standby = new KernelRuntime({
    pool: db.pool,
    url: db.url,
    projections: [],
    leaseName: "test-leader-tasks",
    leaderTasks: [async () => void runs.push("standby")],
  });
  await r.start();
  await until("the leader", () => r.isLeader);
  await standby.start();
  await until("the restart after the failure", () => runs.length === 2, 5_000);
  await r.stop();
  assert.equal(ended, 1, "the task saw the abort and returned");
  await until("the standby takes over", () => runs.includes("standby"));
  await standby.stop();
  assert.deepEqual(runs.slice(0, 2), ["start", "start"]);
});
