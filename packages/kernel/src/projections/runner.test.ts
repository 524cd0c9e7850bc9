import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { createTestDatabase, type TestDatabase } from "@plfm/testing";
import { Registry } from "prom-client";
import { append } from "../append.ts";
import type { NewEvent } from "../events.ts";
import { newId } from "../ids.ts";
import { createLogger } from "../logger.ts";
import { createKernelMetrics } from "../metrics.ts";
import { Notifier } from "../notifier.ts";
import { maxPosition, type Position, START } from "../position.ts";
import { catchUp } from "./batch.ts";
import { readCheckpoints } from "./projection.ts";
import { rebuildProjection } from "./rebuild.ts";
import { ProjectionRunner } from "./runner.ts";
import {
  createLedgerTables,
  ledgerAccounts,
  ledgerEvents,
  ledgerHash,
  ledgerProjection,
  meta,
  untilCheckpoint,
} from "./test-ledger.ts";

let db: TestDatabase;
let notifier: Notifier;
before(async () => {
  db = await createTestDatabase({ poolSize: 12 });
  notifier = new Notifier(db.url);
});
after(async () => {
  await notifier.stop();
  await db.drop();
});

/** Appends and returns the position; expected ledger totals go in `want`. */
async function add(events: NewEvent[], want: Map<string, [number, number]>): Promise<Position> {
  const r = await append(db.pool, { meta, events });
  assert.equal(r.replayed, false);
  for (const e of events) {
    const w = want.get(e.aggregateId) ?? [0, 0];
    if (e.eventType.endsWith(".opened")) want.set(e.aggregateId, w);
    if (e.eventType.endsWith(".deposited"))
      want.set(e.aggregateId, [w[0] + 1, w[1] + Number(e.payload.amount)]);
  }
  return r.replayed ? START : r.position;
}

describe("ProjectionRunner", () => {
  test("a view rebuilt from scratch equals the live one", async () => {
    await createLedgerTables(db.pool, "rb");
    const { opened, deposited, noted } = ledgerEvents("rb");
    const projection = ledgerProjection("rb", "rb");
    const metrics = createKernelMetrics(new Registry(), "t");
    const runner = new ProjectionRunner({
      pool: db.pool,
      projections: [projection],
      notifier,
      metrics,
      batchSize: 7,
      pollIntervalMs: 50,
    });
    await runner.start();
    const want = new Map<string, [number, number]>();
    let last: Position = START;
    try {
      // Six writers, each on its own accounts, appending concurrently while the
      // runner runs; every command mixes in events the projection filters out.
      await Promise.all(
        Array.from({ length: 6 }, async (_, w) => {
          const ids = [newId("acct"), newId("acct")] as const;
          {
            const p = await add([opened(ids[0]), opened(ids[1])], want);
            last = maxPosition(last, p);
          }
          for (let i = 0; i < 15; i++) {
            const id = ids[i % 2] as string;
            const other = {
              aggregateType: "misc",
              aggregateId: `m${w}`,
              eventType: "misc.happened",
              payload: {},
            };
            const events = [deposited(id, w * 100 + i), noted(id), other];
            if (i % 3 === 0) events.push(deposited(ids[(i + 1) % 2] as string, 7));
            {
              const p = await add(events, want);
              last = maxPosition(last, p);
            }
          }
        }),
      );
      await untilCheckpoint(db.pool, "rb", last);
      const live = await ledgerHash(db.pool, "rb");
      assert.ok(live.rows > 0, "the view is not empty");
      assert.deepEqual(await ledgerAccounts(db.pool, "rb"), want);
      const applied = 12 + 6 * 20; // opened + deposits (15 + 5 per writer)
      assert.equal((await metrics.projectionApplied.get()).values[0]?.value, applied);

      // Rebuild under the running runner: it replays by itself.
      await rebuildProjection(db.pool, projection);
      await untilCheckpoint(db.pool, "rb", last);
      assert.equal((await ledgerHash(db.pool, "rb")).hash, live.hash);

      // And with no runner at all: rebuild, then catch up by hand.
      await runner.stop();
      await rebuildProjection(db.pool, projection);
      assert.equal((await ledgerHash(db.pool, "rb")).rows, 0);
      assert.equal(await catchUp(db.pool, projection, { batchSize: 50 }), applied);
      assert.equal((await ledgerHash(db.pool, "rb")).hash, live.hash);
      const lag = await metrics.projectionLagEvents.get();
      assert.equal(lag.values[0]?.value, 0);
    } finally {
      await runner.stop();
    }
  });

  test("stopped part-way, a fresh runner finishes without applying anything twice", async () => {
    await createLedgerTables(db.pool, "rs");
    const { opened, deposited, noted } = ledgerEvents("rs");
    const base = ledgerProjection("rs", "rs");
    const want = new Map<string, [number, number]>();
    const ids = Array.from({ length: 4 }, () => newId("acct"));
    let last: Position = START;
    for (const id of ids) last = await add([opened(id)], want);
    for (let i = 0; i < 60; i++) {
      const id = ids[i % 4] as string;
      last = await add(i % 5 === 0 ? [noted(id), deposited(id, i)] : [deposited(id, i)], want);
    }
    let applied = 0;
    let first: ProjectionRunner | null = null;
    const stopping: Promise<void>[] = [];
    // Stops its own runner from inside a batch: stop() must let that batch commit.
    const projection = {
      ...base,
      async apply(client: Parameters<typeof base.apply>[0], events: Parameters<typeof base.apply>[1]) {
        await base.apply(client, events);
        applied += events.length;
        if (applied >= 30 && first && stopping.length === 0) stopping.push(first.stop());
      },
    };
    first = new ProjectionRunner({ pool: db.pool, projections: [projection], notifier, batchSize: 10 });
    await first.start();
    await untilCondition(() => stopping.length > 0);
    await stopping[0];
    await first.stop(); // twice is fine
    const { rows } = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM rs_entries");
    const openedApplied = 4;
    assert.equal(rows[0]?.n, applied - openedApplied, "the batch in flight at stop() committed");
    assert.ok(applied < 64, "stopped part-way");

    for (let i = 0; i < 12; i++) last = await add([deposited(ids[i % 4] as string, 1000 + i)], want);
    const second = new ProjectionRunner({
      pool: db.pool,
      projections: [projection],
      notifier,
      batchSize: 10,
      pollIntervalMs: 50,
    });
    await second.start();
    try {
      await untilCheckpoint(db.pool, "rs", last);
      assert.deepEqual(await ledgerAccounts(db.pool, "rs"), want);
      assert.equal(applied, 4 + 60 + 12, "every event applied exactly once");
    } finally {
      await second.stop();
    }
  });

  test("two runners on one projection never interleave", async () => {
    await createLedgerTables(db.pool, "tw");
    const { opened, deposited } = ledgerEvents("tw");
    const projection = ledgerProjection("tw", "tw");
    const runners = [1, 2].map(
      () =>
        new ProjectionRunner({
          pool: db.pool,
          projections: [projection],
          notifier,
          batchSize: 5,
          pollIntervalMs: 20,
        }),
    );
    await Promise.all(runners.map((r) => r.start()));
    const want = new Map<string, [number, number]>();
    const ids = Array.from({ length: 3 }, () => newId("acct"));
    let last: Position = START;
    try {
      await Promise.all(
        ids.map(async (id) => {
          {
            const p = await add([opened(id)], want);
            last = maxPosition(last, p);
          }
          for (let i = 0; i < 40; i++) {
            const p = await add([deposited(id, i)], want);
            last = maxPosition(last, p);
          }
        }),
      );
      await untilCheckpoint(db.pool, "tw", last);
      assert.deepEqual(await ledgerAccounts(db.pool, "tw"), want);
    } finally {
      await Promise.all(runners.map((r) => r.stop()));
    }
  });

  test("a failing apply is logged and retried; the runner survives", async () => {
    await createLedgerTables(db.pool, "er");
    const { opened, deposited } = ledgerEvents("er");
    const base = ledgerProjection("er", "er");
    let failures = 0;
    const projection = {
      ...base,
      async apply(client: Parameters<typeof base.apply>[0], events: Parameters<typeof base.apply>[1]) {
        await base.apply(client, events); // rolled back with the throw below
        if (failures < 3) {
          failures++;
          throw new Error("boom");
        }
      },
    };
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const logger = createLogger({ name: "test", destination });
    const runner = new ProjectionRunner({
      pool: db.pool,
      projections: [projection],
      notifier,
      logger,
      errorBackoffMs: 10,
      pollIntervalMs: 50,
    });
    const want = new Map<string, [number, number]>();
    const id = newId("acct");
    const last = await add([opened(id), deposited(id, 5), deposited(id, 6)], want);
    await runner.start();
    try {
      await untilCheckpoint(db.pool, "er", last);
      assert.equal(failures, 3);
      assert.deepEqual(await ledgerAccounts(db.pool, "er"), want, "failed batches left nothing behind");
      assert.equal(lines.filter((l) => l.includes("projection batch failed")).length, 3);
      assert.ok(lines.some((l) => l.includes("boom")));
    } finally {
      await runner.stop();
    }
  });

  test("a transaction that commits late is not skipped", async () => {
    await createLedgerTables(db.pool, "lc");
    const { opened, deposited } = ledgerEvents("lc");
    const projection = ledgerProjection("lc", "lc");
    const runner = new ProjectionRunner({
      pool: db.pool,
      projections: [projection],
      notifier,
      pollIntervalMs: 30,
    });
    await runner.start();
    const slowId = newId("acct");
    const fastId = newId("acct");
    const slow = await db.pool.connect();
    try {
      await slow.query("BEGIN");
      const early = await append(slow, { meta, events: [opened(slowId), deposited(slowId, 1)] });
      const late = await append(db.pool, { meta, events: [opened(fastId), deposited(fastId, 2)] });
      assert.ok(!early.replayed && !late.replayed);
      // The open transaction took the lower event ids: an "id > last seen" reader would skip them.
      assert.ok(early.events[1] && late.events[0] && early.events[1].eventId < late.events[0].eventId);
      await new Promise((r) => setTimeout(r, 150)); // the runner runs meanwhile
      const cp = (await readCheckpoints(db.pool, ["lc"])).get("lc");
      assert.ok(cp && cp.txId <= early.position.txId, "the checkpoint waits below the open transaction");
      assert.equal(
        (await ledgerAccounts(db.pool, "lc")).size,
        0,
        "nothing past the open transaction is read",
      );
      await slow.query("COMMIT");
      await untilCheckpoint(db.pool, "lc", maxPosition(early.position, late.position));
      assert.deepEqual(
        await ledgerAccounts(db.pool, "lc"),
        new Map([
          [slowId, [1, 1]],
          [fastId, [1, 2]],
        ]),
      );
    } finally {
      await slow.query("ROLLBACK").catch(() => {});
      slow.release();
      await runner.stop();
    }
  });
});

async function untilCondition(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
