import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createTestDatabase, databaseUrl, type TestDatabase } from "@plfm/testing";
import { append } from "../append.ts";
import { isKernelError } from "../errors.ts";
import type { NewEvent } from "../events.ts";
import { newId } from "../ids.ts";
import { Notifier } from "../notifier.ts";
import { comparePositions, encodeCursor, type Position, START } from "../position.ts";
import { checkpointPayload, parseCheckpointPayload, readCheckpoints } from "./projection.ts";
import { rebuildProjection } from "./rebuild.ts";
import { ProjectionRunner } from "./runner.ts";
import { projectionStatus } from "./status.ts";
import { createLedgerTables, ledgerAccounts, ledgerEvents, ledgerProjection, meta } from "./test-ledger.ts";
import { CheckpointWatcher } from "./wait.ts";

const { opened, deposited, noted } = ledgerEvents("rw");
const projection = ledgerProjection("rw", "rw");

let db: TestDatabase;
let notifier: Notifier;
let watcher: CheckpointWatcher;
before(async () => {
  db = await createTestDatabase({ poolSize: 12 });
  notifier = new Notifier(db.url);
  watcher = new CheckpointWatcher({ pool: db.pool, notifier });
  await createLedgerTables(db.pool, "rw");
});
after(async () => {
  await watcher.stop();
  await notifier.stop();
  await db.drop();
});

async function add(...events: NewEvent[]): Promise<Position> {
  const r = await append(db.pool, { meta, events });
  assert.ok(!r.replayed);
  return r.position;
}

/** Runs `fn` with a runner going; a 5 s poll interval, so only notifications make it quick. */
async function withRunner(fn: () => Promise<void>): Promise<void> {
  const runner = new ProjectionRunner({
    pool: db.pool,
    projections: [projection],
    notifier,
    pollIntervalMs: 5000,
  });
  await runner.start();
  try {
    await fn();
  } finally {
    await runner.stop();
  }
}

describe("read-your-writes", () => {
  test("waitFor returns promptly once the projection passes the position", async () => {
    const waits: number[] = [];
    await withRunner(async () => {
      for (let i = 0; i < 20; i++) {
        const id = newId("acct");
        const pos = await add(opened(id), deposited(id, i));
        const t0 = performance.now();
        await watcher.waitFor(pos, ["rw"]);
        waits.push(performance.now() - t0);
        // The write is visible in the view right away.
        assert.deepEqual((await ledgerAccounts(db.pool, "rw")).get(id), [1, i]);
      }
    });
    // Generous bounds: transactions of other test files on the same server hold
    // back the horizon now and then. Without the notification path the runner
    // would only pick writes up at its 5 s poll.
    waits.sort((a, b) => a - b);
    assert.ok((waits[19] as number) < 2000, `slowest wait ${waits[19]} ms`);
    assert.ok((waits[10] as number) < 100, `median wait ${waits[10]} ms`);
  });

  test("with the runner stopped, waitFor fails with projection_timeout", async () => {
    const id = newId("acct");
    const pos = await add(opened(id));
    const t0 = performance.now();
    await assert.rejects(watcher.waitFor(pos, ["rw"], { timeoutMs: 300 }), (err) => {
      assert.ok(isKernelError(err, "projection_timeout"), String(err));
      assert.deepEqual(err.extra, { projections: ["rw"] });
      return true;
    });
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 290 && elapsed < 2000, `timed out after ${elapsed} ms`);
    const rows = await db.pool.query("SELECT count(*)::int AS n FROM events WHERE aggregate_id = $1", [id]);
    assert.equal(rows.rows[0].n, 1, "the write itself is committed");
    // Once a runner runs again the same wait succeeds.
    await withRunner(() => watcher.waitFor(pos, ["rw"], { timeoutMs: 3000 }));
  });

  test("an event the projection filters out still lets the wait succeed", async () => {
    await withRunner(async () => {
      const id = newId("acct");
      const pos = await add(noted(id));
      await watcher.waitFor(pos, ["rw"], { timeoutMs: 3000 });
      const cp = (await readCheckpoints(db.pool, ["rw"])).get("rw");
      assert.ok(cp && comparePositions(cp, pos) >= 0, "the checkpoint advanced to the horizon");
      assert.equal((await ledgerAccounts(db.pool, "rw")).has(id), false);
    });
  });

  test("many concurrent waiters are all served", async () => {
    await withRunner(async () => {
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const id = newId("acct");
          const pos = await add(opened(id), deposited(id, i));
          await watcher.waitFor(pos, ["rw"], { timeoutMs: 4000 });
          assert.deepEqual((await ledgerAccounts(db.pool, "rw")).get(id), [1, i]);
        }),
      );
      assert.ok(performance.now() - t0 < 4000);
    });
  });

  test("a null position or no projection resolves at once; an unknown projection times out", async () => {
    await watcher.waitFor(null, ["rw"]);
    await watcher.waitFor(undefined, ["rw"]);
    await watcher.waitFor({ txId: 1n << 60n, eventId: 0n }, []);
    await assert.rejects(
      watcher.waitFor({ txId: 1n, eventId: 1n }, ["no_such_projection"], { timeoutMs: 100 }),
      (e) => isKernelError(e, "projection_timeout"),
    );
  });

  test("without notifications the 25 ms poll still serves waiters", async () => {
    // A notifier on another database never hears this database's checkpoints.
    const deaf = new Notifier(databaseUrl(db.url, "postgres"));
    const polling = new CheckpointWatcher({ pool: db.pool, notifier: deaf });
    try {
      await withRunner(async () => {
        const id = newId("acct");
        const pos = await add(opened(id));
        const t0 = performance.now();
        await polling.waitFor(pos, ["rw"], { timeoutMs: 3000 });
        assert.ok(performance.now() - t0 < 2000);
        assert.ok(comparePositions(polling.known("rw") ?? START, pos) >= 0);
      });
    } finally {
      await polling.stop();
      await deaf.stop();
    }
  });

  test("the timeout holds while the notifier cannot connect, and the poll still serves", async () => {
    const broken = new Notifier("postgres://postgres@127.0.0.1:1/nowhere");
    const lonely = new CheckpointWatcher({ pool: db.pool, notifier: broken });
    try {
      const t0 = performance.now();
      await assert.rejects(
        lonely.waitFor({ txId: 1n << 60n, eventId: 0n }, ["rw"], { timeoutMs: 200 }),
        (e) => isKernelError(e, "projection_timeout"),
      );
      assert.ok(performance.now() - t0 < 1500);
      await lonely.waitFor({ txId: 1n, eventId: 0n }, ["rw"], { timeoutMs: 2000 }); // long passed
    } finally {
      await lonely.stop();
      await broken.stop();
    }
  });

  test("a rebuild moves the watcher's cached checkpoint back", async () => {
    let pos: Position | undefined;
    await withRunner(async () => {
      pos = await add(opened(newId("acct")));
      await watcher.waitFor(pos, ["rw"]);
    });
    assert.ok(pos && comparePositions(watcher.known("rw") ?? START, pos) >= 0);
    await rebuildProjection(db.pool, projection);
    const deadline = Date.now() + 3000;
    while (comparePositions(watcher.known("rw") ?? START, START) !== 0) {
      assert.ok(Date.now() < deadline, "the reset reached the watcher");
      await new Promise((r) => setTimeout(r, 5));
    }
    await withRunner(() => watcher.waitFor(pos, ["rw"], { timeoutMs: 3000 }));
    assert.ok((await ledgerAccounts(db.pool, "rw")).size > 0, "replayed");
  });

  test("checkpoint payloads round-trip, names with ':' included", () => {
    const p = { txId: 123456789012n, eventId: 42n };
    assert.deepEqual(parseCheckpointPayload(checkpointPayload("a:b", p)), { name: "a:b", position: p });
    assert.equal(parseCheckpointPayload("garbage"), null);
    assert.equal(parseCheckpointPayload("x:1:"), null);
  });

  test("stopping a watcher fails its pending waiters with unavailable", async () => {
    const own = new CheckpointWatcher({ pool: db.pool, notifier });
    const pending = own.waitFor({ txId: 1n << 60n, eventId: 0n }, ["rw"]);
    await new Promise((r) => setTimeout(r, 50));
    await own.stop();
    await assert.rejects(pending, (e) => isKernelError(e, "unavailable"));
    await assert.rejects(own.waitFor({ txId: 1n, eventId: 0n }, ["rw"]), (e) =>
      isKernelError(e, "unavailable"),
    );
  });

  test("projectionStatus reports position and lag", async () => {
    let pos: Position | undefined;
    await withRunner(async () => {
      pos = await add(opened(newId("acct")));
      await watcher.waitFor(pos, ["rw"]);
    });
    const before = (await projectionStatus(db.pool)).find((s) => s.name === "rw");
    const cp = (await readCheckpoints(db.pool, ["rw"])).get("rw");
    assert.ok(before && cp);
    assert.equal(before.position, encodeCursor(cp));
    assert.equal(before.lagEvents, 0);
    assert.ok(before.updatedAt instanceof Date);
    const id = newId("acct");
    await add(opened(id), noted(id));
    await add(deposited(id, 1));
    const later = (await projectionStatus(db.pool)).find((s) => s.name === "rw");
    assert.equal(later?.lagEvents, 3, "every committed event after the checkpoint counts, filtered or not");
  });
});
