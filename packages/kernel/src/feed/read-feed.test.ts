import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createTestDatabase, type TestDatabase } from "@plfm/testing";
import { append } from "../append.ts";
import { isKernelError } from "../errors.ts";
import type { CommandMeta, NewEvent, StoredEvent } from "../events.ts";
import { newId } from "../ids.ts";
import { comparePositions, decodeCursor, encodeCursor, type Position, START } from "../position.ts";
import { type EventFilter, headPosition } from "../read.ts";
import { FEED_MAX_LIMIT, feedHeadCursor, readFeed } from "./read-feed.ts";

const meta: CommandMeta = { actorType: "user", actorId: "usr_test", requestId: "req_feed" };
const ev = (over: Partial<NewEvent> & { aggregateId: string }): NewEvent => ({
  aggregateType: "thing",
  eventType: "thing.touched",
  payload: { id: over.aggregateId },
  ...over,
});

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase({ poolSize: 6 });
});
after(() => db.drop());

/**
 * Waits until the horizon has passed `p`. Any transaction open anywhere in the
 * cluster (another test file's) holds it back for a while; only then is a
 * read's result the whole truth rather than a prefix of it.
 */
async function settled(p: Position): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (comparePositions(await headPosition(db.pool), p) <= 0) {
    if (Date.now() > deadline) throw new Error("the horizon did not pass the last append");
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function appendAll(events: NewEvent[], oneEach = true): Promise<Position> {
  let last: Position = START;
  for (const batch of oneEach ? events.map((e) => [e]) : [events]) {
    const r = await append(db.pool, { meta, events: batch });
    assert.ok(!r.replayed);
    last = r.position;
  }
  await settled(last);
  return last;
}

/** Pages through the feed from `cursor` until a page comes back empty. */
async function drain(cursor: string, filter: EventFilter = {}, limit = 200) {
  const items: StoredEvent[] = [];
  for (;;) {
    const page = await readFeed(db.pool, { after: cursor, limit, filter });
    items.push(...page.items);
    cursor = page.next_cursor;
    if (page.items.length === 0) return { items, cursor };
  }
}

describe("readFeed", () => {
  test("never skips an earlier event whose transaction commits after a later one", async () => {
    const start = await feedHeadCursor(db.pool);
    const early = newId("thing");
    const late = newId("thing");
    const delivered: StoredEvent[] = [];
    let cursor = start;
    const poll = async () => {
      const page = await readFeed(db.pool, { after: cursor, limit: 1 });
      delivered.push(...page.items);
      cursor = page.next_cursor;
    };

    const client = await db.pool.connect();
    try {
      await client.query("BEGIN");
      // Takes the lower event id, and holds it uncommitted.
      const a = await append(client, { meta, events: [ev({ aggregateId: early })] });
      for (let i = 0; i < 3; i++) await poll();
      const b = await append(db.pool, { meta, events: [ev({ aggregateId: late })] });
      assert.ok(!a.replayed && !b.replayed);
      assert.ok((a.events[0]?.eventId as bigint) < (b.events[0]?.eventId as bigint));
      for (let i = 0; i < 5; i++) await poll();
      // The later commit is held back by the open transaction's horizon,
      // rather than delivered ahead of it (which would move the cursor past it).
      assert.deepEqual(
        delivered.map((e) => e.aggregateId),
        [],
      );
      await client.query("COMMIT");
    } finally {
      client.release();
    }
    const deadline = Date.now() + 10_000;
    while (delivered.length < 2 && Date.now() < deadline) await poll();
    for (let i = 0; i < 5; i++) await poll();
    assert.deepEqual(
      delivered.map((e) => e.aggregateId),
      [early, late],
    );
    const [x, y] = delivered as [StoredEvent, StoredEvent];
    assert.ok(
      comparePositions({ txId: x.txId, eventId: x.eventId }, { txId: y.txId, eventId: y.eventId }) < 0,
    );
  });

  test("filters return only matches, in order", async () => {
    const start = await feedHeadCursor(db.pool);
    const org = newId("org");
    const app = newId("app");
    const env = newId("env");
    const ids = Array.from({ length: 6 }, () => newId("x"));
    await appendAll([
      ev({ aggregateId: ids[0] as string, orgId: org }),
      ev({ aggregateType: "widget", aggregateId: ids[1] as string, eventType: "widget.made" }),
      ev({ aggregateId: ids[2] as string, orgId: org, appId: app }),
      ev({ aggregateId: ids[3] as string, orgId: org, appId: app, envId: env, eventType: "thing.moved" }),
      ev({ aggregateId: ids[4] as string, orgId: newId("org") }),
      ev({ aggregateId: ids[5] as string }),
    ]);
    const pick = async (filter: EventFilter) =>
      (await drain(start, filter, 2)).items.map((e) => e.aggregateId);
    const [i0, i1, i2, i3, i4, i5] = ids;
    assert.deepEqual(await pick({}), [i0, i1, i2, i3, i4, i5]);
    assert.deepEqual(await pick({ aggregateTypes: ["widget"] }), [i1]);
    assert.deepEqual(await pick({ aggregateTypes: ["widget", "thing"] }), ids);
    assert.deepEqual(await pick({ aggregateTypes: [] }), []);
    assert.deepEqual(await pick({ eventTypes: ["thing.moved", "widget.made"] }), [i1, i3]);
    assert.deepEqual(await pick({ orgId: org }), [i0, i2, i3]);
    assert.deepEqual(await pick({ orgId: org, appId: app }), [i2, i3]);
    assert.deepEqual(await pick({ envId: env }), [i3]);
    assert.deepEqual(await pick({ orgId: org, eventTypes: ["thing.touched"] }), [i0, i2]);
  });

  test("next_cursor advances past scanned rows even when nothing matched", async () => {
    const start = await feedHeadCursor(db.pool);
    await appendAll([
      ev({ aggregateId: newId("x") }),
      ev({ aggregateId: newId("x") }),
      ev({ aggregateId: newId("x") }),
    ]);
    const page = await readFeed(db.pool, { after: start, filter: { aggregateTypes: ["nothing_like_it"] } });
    assert.deepEqual(page.items, []);
    const next = decodeCursor(page.next_cursor);
    const all = await readFeed(db.pool, { after: start });
    assert.equal(all.items.length, 3);
    const last = all.items[2] as StoredEvent;
    assert.ok(
      comparePositions(next, { txId: last.txId, eventId: last.eventId }) > 0,
      "cursor is past the rows",
    );
    // Resuming from it sees only what comes later.
    const id = newId("x");
    await appendAll([ev({ aggregateId: id })]);
    const after = await readFeed(db.pool, { after: page.next_cursor });
    assert.deepEqual(
      after.items.map((e) => e.aggregateId),
      [id],
    );
  });

  test("pages by limit, default 50 and at most 200; without a cursor starts at the beginning", async () => {
    const start = await feedHeadCursor(db.pool);
    const events = Array.from({ length: 230 }, () => ev({ aggregateId: newId("x") }));
    await appendAll(events, false);
    assert.equal((await readFeed(db.pool, { after: start })).items.length, 50);
    assert.equal((await readFeed(db.pool, { after: start, limit: 1000 })).items.length, FEED_MAX_LIMIT);
    const three = await readFeed(db.pool, { after: start, limit: 3 });
    assert.equal(three.items.length, 3);
    const rest = await drain(three.next_cursor);
    assert.equal(rest.items.length, 227);
    const fromStart = await readFeed(db.pool, { limit: 1 });
    assert.equal(fromStart.items[0]?.eventId, 1n);
    assert.equal((await readFeed(db.pool, { after: encodeCursor(START), limit: 1 })).items[0]?.eventId, 1n);
    await assert.rejects(readFeed(db.pool, { limit: 0 }), (e) => isKernelError(e, "invalid_argument"));
  });

  test("a malformed cursor is invalid_cursor", async () => {
    for (const bad of ["nope", "c1.zz", "c2.1.1", "c1.1.1.1", "c1.-1.0", `c1.${"z".repeat(20)}.0`]) {
      await assert.rejects(readFeed(db.pool, { after: bad }), (e) => isKernelError(e, "invalid_cursor"), bad);
    }
  });
});
