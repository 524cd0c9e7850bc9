import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import { createTestDatabase, type TestDatabase } from "@plfm/testing";
import { append } from "../append.ts";
import type { CommandMeta, NewEvent, StoredEvent } from "../events.ts";
import { newId } from "../ids.ts";
import { Notifier } from "../notifier.ts";
import { comparePositions, decodeCursor, encodeCursor, type Position } from "../position.ts";
import { readAggregate } from "../read.ts";
import { FeedHub } from "./feed-hub.ts";
import { type SseOptions, serveSse } from "./sse.ts";
import { type SseFrame, SseTestClient, waitUntil } from "./test-support.ts";
import { toWire } from "./to-wire.ts";

const meta: CommandMeta = { actorType: "user", actorId: "usr_test", requestId: "req_sse" };

let db: TestDatabase;
let notifier: Notifier;
let hub: FeedHub;
let server: Server;
let base: string;
/** Per-path stream options, set by each test; the path is the key. */
const routes = new Map<string, Partial<SseOptions> & { hub?: FeedHub }>();
const served: Promise<void>[] = [];
const clients: SseTestClient[] = [];

before(async () => {
  db = await createTestDatabase({ poolSize: 6 });
  notifier = new Notifier(db.url);
  hub = new FeedHub({ db: db.pool, notifier });
  await hub.start();
  server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const opts = routes.get(path) ?? {};
    served.push(serveSse(req, res, { hub, ...opts }));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  for (const c of clients) c.close();
  await hub.stop();
  await Promise.all(served);
  server.closeAllConnections();
  server.close();
  await notifier.stop();
  await db.drop();
});
beforeEach(async () => {
  // Each test starts with no stream open, so subscriber counts mean something.
  for (const c of clients.splice(0)) c.close();
  await waitUntil("earlier streams to close", () => hub.stats().subscribers === 0);
});

async function open(path: string, headers: Record<string, string> = {}): Promise<SseTestClient> {
  const c = await SseTestClient.open(`${base}${path}`, headers);
  clients.push(c);
  return c;
}

async function appendOne(over: Partial<NewEvent> = {}): Promise<StoredEvent> {
  const id = newId("thing");
  const r = await append(db.pool, {
    meta,
    events: [
      { aggregateType: "thing", aggregateId: id, eventType: "thing.touched", payload: { id }, ...over },
    ],
  });
  assert.ok(!r.replayed);
  return r.events[0] as StoredEvent;
}

const posOf = (e: StoredEvent): Position => ({ txId: e.txId, eventId: e.eventId });
const dataOf = (f: SseFrame) => JSON.parse(f.data as string) as Record<string, unknown>;
const settle = () => new Promise((r) => setTimeout(r, 300));

describe("serveSse", () => {
  test("streams events live from the head with cursor ids, event names and wire envelopes", async () => {
    routes.set("/live", {});
    const c = await open("/live");
    assert.equal(c.status, 200);
    assert.match(String(c.headers["content-type"]), /^text\/event-stream/);
    assert.equal(c.headers["cache-control"], "no-cache");
    assert.equal(c.headers["x-accel-buffering"], "no");
    await waitUntil("the subscription", () => hub.stats().subscribers === 1);
    const sent = [await appendOne(), await appendOne({ eventType: "thing.moved" }), await appendOne()];
    await waitUntil("three events", () => c.events.length >= 3);
    await settle();
    assert.equal(c.events.length, 3);
    for (const [i, f] of c.events.entries()) {
      const e = sent[i] as StoredEvent;
      const [stored] = await readAggregate(db.pool, "thing", e.aggregateId);
      assert.equal(f.id, encodeCursor(posOf(e)));
      assert.equal(f.event, e.eventType);
      assert.deepEqual(dataOf(f), JSON.parse(JSON.stringify(toWire(stored as StoredEvent))));
      assert.equal(dataOf(f).event_id, e.eventId.toString());
      assert.equal(dataOf(f).cursor, f.id);
      assert.equal("tx_id" in dataOf(f), false);
    }
  });

  test("reconnecting with Last-Event-ID gets exactly the events after it; the header wins over ?after=", async () => {
    routes.set("/resume", {});
    const first = await open("/resume");
    await waitUntil("the subscription", () => hub.stats().subscribers === 1);
    const sent = [await appendOne(), await appendOne(), await appendOne()];
    await waitUntil("three events", () => first.events.length >= 3);
    first.close();
    await waitUntil("the first stream to close", () => hub.stats().subscribers === 0);
    sent.push(await appendOne(), await appendOne()); // while disconnected
    const lastSeen = first.events[1]?.id as string;
    const second = await open(`/resume?after=${first.events[2]?.id}`, { "last-event-id": lastSeen });
    await waitUntil("the catch-up", () => second.events.length >= 3);
    sent.push(await appendOne()); // live again
    await waitUntil("the live one", () => second.events.length >= 4);
    await settle();
    assert.deepEqual(
      second.events.map((f) => f.id),
      sent.slice(2).map((e) => encodeCursor(posOf(e))),
    );
    // ?after= alone is honoured too.
    const third = await open(`/resume?after=${encodeURIComponent(second.events[2]?.id as string)}`);
    await waitUntil("the tail", () => third.events.length >= 1);
    await settle();
    assert.deepEqual(
      third.events.map((f) => f.id),
      [encodeCursor(posOf(sent[5] as StoredEvent))],
    );
  });

  test("sends a :heartbeat comment every heartbeatMs", async () => {
    routes.set("/heartbeat", { heartbeatMs: 50 });
    const c = await open("/heartbeat");
    await waitUntil("two heartbeats", () => c.comments.filter((x) => x === "heartbeat").length >= 2, 3000);
    assert.match(c.body, /^:heartbeat\n\n/m);
  });

  test("a filtered stream that skipped rows sends event: checkpoint with the new cursor", async () => {
    routes.set("/sparse", { filter: { aggregateTypes: ["wanted"] }, checkpointAfterMs: 200 });
    const c = await open("/sparse");
    await waitUntil("the subscription", () => hub.stats().subscribers === 1);
    const opened = Date.now();
    const skipped = [await appendOne(), await appendOne()];
    const past = (f: SseFrame) =>
      comparePositions(decodeCursor(f.id as string), posOf(skipped[1] as StoredEvent)) > 0;
    await waitUntil("a checkpoint past the skipped events", () => c.events.some(past), 5000);
    assert.ok(Date.now() - opened >= 150, "not before checkpointAfterMs of silence");
    const cp = c.events.find(past) as SseFrame;
    assert.equal(cp.event, "checkpoint");
    assert.equal(cp.data, "{}");
    assert.ok(c.events.every((f) => f.event === "checkpoint" && f.data === "{}"));
    c.close();
    // Resuming from the checkpoint: only what matches and came later.
    const again = await open("/sparse", { "last-event-id": cp.id as string });
    await waitUntil("the second subscription", () => hub.stats().subscribers === 1);
    await appendOne();
    const wanted = await appendOne({ aggregateType: "wanted", eventType: "wanted.found" });
    await waitUntil("the wanted event", () => again.events.some((f) => f.event === "wanted.found"));
    await settle();
    assert.deepEqual(
      again.events.filter((f) => f.event !== "checkpoint").map((f) => f.id),
      [encodeCursor(posOf(wanted))],
    );
  });

  test("startAtHead: false without a cursor streams from the beginning of the log", async () => {
    routes.set("/all", {
      startAtHead: false,
      eventName: () => "evt",
      toData: (e) => ({ id: e.eventId.toString() }),
    });
    const c = await open("/all");
    await waitUntil("the first events", () => c.events.length >= 2);
    assert.deepEqual(c.events[0], { id: c.events[0]?.id, event: "evt", data: '{"id":"1"}', comments: [] });
  });

  test("the subscription is removed when the client disconnects", async () => {
    routes.set("/bye", {});
    const before = served.length;
    const c = await open("/bye");
    await waitUntil("the subscription", () => hub.stats().subscribers === 1);
    const stream = served[before] as Promise<void>;
    let finished = false;
    void stream.then(() => {
      finished = true;
    });
    c.close();
    await waitUntil("the subscription to go", () => hub.stats().subscribers === 0, 5000);
    await waitUntil("serveSse to return", () => finished, 5000);
  });

  test("an invalid cursor is a 400 invalid_cursor before any streaming", async () => {
    routes.set("/bad", {});
    for (const [path, headers] of [
      ["/bad", { "last-event-id": "garbage" }],
      ["/bad?after=c1.x", {}],
    ] as const) {
      const c = await open(path, headers);
      await waitUntil("the body", () => c.ended, 5000);
      assert.equal(c.status, 400);
      assert.match(String(c.headers["content-type"]), /^application\/problem\+json/);
      const body = JSON.parse(c.body);
      assert.equal(body.code, "invalid_cursor");
      assert.equal(body.status, 400);
    }
    assert.equal(hub.stats().subscribers, 0);
  });

  test("a stopped hub ends the stream, so the client reconnects elsewhere", async () => {
    const local = new FeedHub({ db: db.pool, notifier });
    await local.start();
    routes.set("/local", { hub: local });
    const c = await open("/local");
    await waitUntil("the subscription", () => local.stats().subscribers === 1);
    await local.stop();
    await waitUntil("the response to end", () => c.ended, 5000);
  });
});
