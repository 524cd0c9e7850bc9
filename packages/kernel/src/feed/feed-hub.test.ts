import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createTestDatabase, type TestDatabase } from "@plfm/testing";
import { type AppendResult, append } from "../append.ts";
import type { CommandMeta, NewEvent, StoredEvent } from "../events.ts";
import { newId } from "../ids.ts";
import { Notifier } from "../notifier.ts";
import { comparePositions, decodeCursor, encodeCursor, maxPosition, type Position } from "../position.ts";
import type { EventFilter } from "../read.ts";
import { FeedHub } from "./feed-hub.ts";
import type { FeedMessage, FeedSubscription } from "./feed-subscription.ts";
import { readFeed } from "./read-feed.ts";
import { collect, waitUntil } from "./test-support.ts";

const meta: CommandMeta = { actorType: "user", actorId: "usr_test", requestId: "req_hub" };
const ORGS = ["org_a", "org_b", "org_c"];
const TYPES = ["thing.touched", "thing.moved", "thing.dropped"];

let db: TestDatabase;
let notifier: Notifier;
let hub: FeedHub;
before(async () => {
  db = await createTestDatabase({ poolSize: 12 });
  notifier = new Notifier(db.url);
  hub = new FeedHub({ db: db.pool, notifier });
  await hub.start();
});
after(async () => {
  await hub.stop();
  await notifier.stop();
  await db.drop();
});

let counter = 0;
let lastAppended: Position = { txId: 0n, eventId: 0n };
function appended(r: AppendResult): void {
  if (!r.replayed) lastAppended = maxPosition(lastAppended, r.position);
}
function randomEvent(): NewEvent {
  counter++;
  const agg = counter % 5 === 0 ? "widget" : "thing";
  return {
    aggregateType: agg,
    aggregateId: newId(agg),
    eventType: agg === "widget" ? "widget.made" : (TYPES[counter % 3] as string),
    orgId: ORGS[counter % 3] as string,
    payload: { n: counter },
  };
}

/** Appends through the pool, or through a client transaction held open a little (late commits). */
async function appendSome(): Promise<void> {
  const events = Array.from({ length: 1 + Math.floor(Math.random() * 3) }, randomEvent);
  if (Math.random() < 0.3) {
    const client = await db.pool.connect();
    try {
      await client.query("BEGIN");
      const r = await append(client, { meta, events });
      await new Promise((r) => setTimeout(r, Math.random() * 30));
      await client.query("COMMIT");
      appended(r);
    } finally {
      client.release();
    }
  } else {
    appended(await append(db.pool, { meta, events }));
  }
}

/**
 * Everything matching `filter` after `from`, straight from the database, read
 * until past `lastAppended`: any transaction open in the cluster (another test
 * file's, autovacuum's) holds the horizon back for a while.
 */
async function expected(from: Position, filter: EventFilter): Promise<string[]> {
  const out: string[] = [];
  let cursor = encodeCursor(from);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const page = await readFeed(db.pool, { after: cursor, limit: 200, filter });
    out.push(...page.items.map((e) => e.eventId.toString()));
    cursor = page.next_cursor;
    if (page.items.length === 0 && comparePositions(decodeCursor(cursor), lastAppended) > 0) return out;
    if (Date.now() > deadline) throw new Error("the horizon did not pass the last append");
    if (page.items.length === 0) await new Promise((r) => setTimeout(r, 10));
  }
}

type Collected = ReturnType<typeof collect>;

const eventIds = (ms: FeedMessage[]) =>
  ms.flatMap((m) => (m.type === "event" ? [m.event.eventId.toString()] : []));

function assertIncreasing(ms: FeedMessage[]): void {
  for (let i = 1; i < ms.length; i++) {
    const a = ms[i - 1] as FeedMessage;
    const b = ms[i] as FeedMessage;
    assert.ok(comparePositions(a.position, b.position) < 0, `positions increase at message ${i}`);
  }
}

describe("FeedHub", () => {
  test("50 subscribers joining at different cursors during appends each get every match exactly once, in order", async () => {
    for (let i = 0; i < 40; i++) await appendSome();
    const known = (await expected({ txId: 0n, eventId: 0n }, {})).length;
    assert.ok(known >= 40);
    const filters: EventFilter[] = [
      {},
      { orgId: "org_b" },
      { aggregateTypes: ["widget"] },
      { eventTypes: ["thing.moved", "widget.made"] },
      { orgId: "org_a", aggregateTypes: ["thing"] },
    ];
    const stop = { now: false };
    const writers = Array.from({ length: 4 }, async () => {
      while (!stop.now) await appendSome();
    });
    const subs: { sub: FeedSubscription; from: Position; filter: EventFilter; got: Collected }[] = [];
    for (let i = 0; i < 50; i++) {
      const filter = filters[i % filters.length] as EventFilter;
      // Mostly old cursors (catch-up from the database), every fourth at the head.
      let from: Position | undefined;
      if (i % 4 !== 0) {
        const all = await readFeed(db.pool, { limit: 200 });
        const pick = all.items[Math.floor(Math.random() * all.items.length)] as StoredEvent;
        from = { txId: pick.txId, eventId: pick.eventId };
      }
      const sub = hub.subscribe({ after: from, filter });
      subs.push({ sub, from: sub.position, filter, got: collect(sub) });
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 300));
    stop.now = true;
    await Promise.all(writers);
    const wants = await Promise.all(subs.map((s) => expected(s.from, s.filter)));
    assert.ok(
      wants.every((w) => w.length > 0),
      "every subscriber has events to receive",
    );
    await waitUntil("every subscriber to catch up", () =>
      subs.every((s, i) => eventIds(s.got.messages).length >= (wants[i] as string[]).length),
    );
    await new Promise((r) => setTimeout(r, 300)); // room for a duplicate to show up
    subs.forEach((s, i) => {
      const ids = eventIds(s.got.messages);
      assert.equal(new Set(ids).size, ids.length, `subscriber ${i} got no duplicate`);
      assert.deepEqual(ids, wants[i], `subscriber ${i} (${JSON.stringify(s.filter)})`);
      assertIncreasing(s.got.messages);
      for (const m of s.got.messages) assert.ok(comparePositions(m.position, s.from) > 0);
    });
    assert.equal(hub.stats().subscribers, 50);
    await Promise.all(subs.map((s) => s.sub.close()));
    await Promise.all(subs.map((s) => s.got.done));
    assert.equal(hub.stats().subscribers, 0);
  });
  test("a subscriber too slow for the live tail falls back to the database and still gets everything once", async () => {
    const small = new FeedHub({ db: db.pool, notifier, queueLimit: 4 });
    await small.start();
    try {
      const slow = small.subscribe();
      const brisk = collect(small.subscribe());
      const from = slow.position;
      for (let i = 0; i < 30; i++) appended(await append(db.pool, { meta, events: [randomEvent()] }));
      const want = await expected(from, {});
      assert.equal(want.length, 30);
      await waitUntil("the slow subscriber to overflow", () => slow.overflows > 0 && !slow.live);
      await waitUntil("the brisk one to get everything", () => eventIds(brisk.messages).length >= 30);
      assert.ok(small.stats().overflows >= 1);
      // Now consume: everything arrives from the catch-up, then it rejoins live.
      const got: FeedMessage[] = [];
      for await (const m of slow) {
        got.push(m);
        if (eventIds(got).length >= 30) break;
      }
      assert.deepEqual(eventIds(got), want);
      assertIncreasing(got);
      assert.deepEqual(eventIds(brisk.messages), want);
      assert.equal(small.stats().subscribers, 1, "break closed the slow one");
    } finally {
      await small.stop();
    }
  });

  test("a filtered subscriber gets a checkpoint past rows it skipped, and the hub's stop ends it", async () => {
    const local = new FeedHub({ db: db.pool, notifier });
    await local.start();
    const sub = local.subscribe({ filter: { aggregateTypes: ["nothing_like_it"] } });
    const got = collect(sub);
    const r = await append(db.pool, { meta, events: [randomEvent()] });
    assert.ok(!r.replayed);
    await waitUntil("a checkpoint past the skipped event", () =>
      got.messages.some((m) => m.type === "checkpoint" && comparePositions(m.position, r.position) > 0),
    );
    assert.ok(got.messages.every((m) => m.type === "checkpoint"));
    assert.ok(comparePositions(decodeCursor(encodeCursor(sub.position)), r.position) > 0);
    await local.stop();
    await got.done; // ends instead of hanging
    assert.equal(local.stats().subscribers, 0);
    assert.throws(() => local.subscribe(), /not running/);
  });

  test("events committed by a transaction that sent no wake-up still arrive (polling fallback)", async () => {
    const got = collect(hub.subscribe());
    const client = await db.pool.connect();
    let id = "";
    try {
      await client.query("BEGIN");
      const r = await append(client, { meta, events: [randomEvent()] });
      assert.ok(!r.replayed);
      id = (r.events[0] as StoredEvent).eventId.toString();
      await client.query("COMMIT");
    } finally {
      client.release();
    }
    await waitUntil("the polled event", () => eventIds(got.messages).includes(id), 5000);
  });
});
