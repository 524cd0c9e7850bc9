// The change feed over HTTP (spec §4.3, §4.4): org pages and streams, the operators' global feed.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { SseTestClient, waitUntil } from "../../../kernel/src/feed/test-support.ts";
import { assertProblem, dev, type Harness, makeEnv, makeOrg, ok, startHarness } from "../storage/test-kit.ts";

let h: Harness;
let orgA: string;
let orgB: string;
let envA: string;
const alice = dev("alice@example.com");
const bob = dev("bob@example.com");
const ops = dev("ops@example.com");
const streams: SseTestClient[] = [];

before(async () => {
  h = await startHarness(["ops@example.com"]);
  orgA = await makeOrg(h, "alice@example.com", "ev-a");
  orgB = await makeOrg(h, "bob@example.com", "ev-b");
  envA = await makeEnv(h, alice, orgA, "shop");
  await makeEnv(h, bob, orgB, "shop");
});
after(async () => {
  for (const s of streams) s.close();
  await h?.close();
});

type Envelope = Record<string, unknown> & { cursor: string; event_type: string; org_id: string | null };
const items = (body: Record<string, unknown>) => body.items as Envelope[];

async function open(path: string, headers: Record<string, string> = {}): Promise<SseTestClient> {
  const c = await SseTestClient.open(`${h.server.url}${path}`, headers);
  streams.push(c);
  return c;
}

describe("org events (polling)", () => {
  test("lists only the org's events, as envelopes with a cursor and without tx_id", async () => {
    const page = ok(await h.call("GET", `/v1/orgs/${orgA}/events?limit=200`, { auth: alice }), 200);
    const evs = items(page);
    assert.ok(evs.length >= 3, JSON.stringify(page));
    assert.ok(evs.every((e) => e.org_id === orgA));
    assert.deepEqual(
      evs.slice(0, 1).map((e) => e.event_type),
      ["org.created"],
    );
    assert.ok(evs.some((e) => e.event_type === "app.created"));
    for (const e of evs) {
      assert.equal("tx_id" in e, false);
      assert.equal(typeof e.cursor, "string");
      assert.equal(typeof e.event_id, "string");
    }
    assert.equal(typeof page.next_cursor, "string");
  });

  test("pages by limit and next_cursor cover the same events in order", async () => {
    const all = items(ok(await h.call("GET", `/v1/orgs/${orgA}/events?limit=200`, { auth: alice }), 200));
    const seen: string[] = [];
    let cursor = "";
    for (let i = 0; i < 50; i++) {
      const page = ok(
        await h.call("GET", `/v1/orgs/${orgA}/events?limit=2${cursor ? `&after=${cursor}` : ""}`, {
          auth: alice,
        }),
        200,
      );
      if (items(page).length === 0) break;
      assert.ok(items(page).length <= 2);
      seen.push(...items(page).map((e) => String(e.event_id)));
      cursor = String(page.next_cursor);
    }
    assert.deepEqual(
      seen,
      all.map((e) => String(e.event_id)),
    );
  });

  test("filters by event_type, app_id and env_id; next_cursor advances on empty pages", async () => {
    const apps = items(
      ok(await h.call("GET", `/v1/orgs/${orgA}/events?event_type=app.created`, { auth: alice }), 200),
    );
    assert.equal(apps.length, 1);
    const appId = String(apps[0]?.aggregate_id);
    const byApp = items(
      ok(await h.call("GET", `/v1/orgs/${orgA}/events?app_id=${appId}`, { auth: alice }), 200),
    );
    assert.ok(byApp.length >= 2 && byApp.every((e) => e.app_id === appId));
    const envId = envA.split("/").at(-1);
    const byEnv = items(
      ok(await h.call("GET", `/v1/orgs/${orgA}/events?env_id=${envId}`, { auth: alice }), 200),
    );
    assert.ok(byEnv.length >= 1 && byEnv.every((e) => e.env_id === envId));

    const none = ok(await h.call("GET", `/v1/orgs/${orgA}/events?event_type=no.such`, { auth: alice }), 200);
    assert.equal(items(none).length, 0);
    ok(await h.call("POST", `/v1/orgs/${orgA}/apps`, { auth: alice, body: { name: "later" } }), 201);
    const again = ok(
      await h.call("GET", `/v1/orgs/${orgA}/events?event_type=no.such&after=${none.next_cursor}`, {
        auth: alice,
      }),
      200,
    );
    assert.equal(items(again).length, 0);
    assert.notEqual(
      again.next_cursor,
      none.next_cursor,
      "an empty page still moves the cursor past new rows",
    );
  });

  test("refuses a bad cursor, a bad limit, no token, a non-member", async () => {
    assertProblem(
      await h.call("GET", `/v1/orgs/${orgA}/events?after=garbage`, { auth: alice }),
      400,
      "invalid_cursor",
    );
    assertProblem(
      await h.call("GET", `/v1/orgs/${orgA}/events?limit=0`, { auth: alice }),
      400,
      "invalid_argument",
    );
    assertProblem(await h.call("GET", `/v1/orgs/${orgA}/events`), 401, "unauthorized");
    const denied = await h.call("GET", `/v1/orgs/${orgA}/events`, { auth: bob });
    assert.equal(denied.status, 403, JSON.stringify(denied.body));
  });
});

describe("global events (operators)", () => {
  test("operators see every org's events; members get 403 insufficient_scope", async () => {
    const all = items(ok(await h.call("GET", "/v1/events?limit=200", { auth: ops }), 200));
    const orgs = new Set(all.map((e) => e.org_id));
    assert.ok(orgs.has(orgA) && orgs.has(orgB));
    assertProblem(await h.call("GET", "/v1/events", { auth: alice }), 403, "insufficient_scope");
    assertProblem(await h.call("GET", "/v1/events"), 401, "unauthorized");
  });
});

describe("event streams (SSE)", () => {
  test("streams new org events live, none of another org's, and resumes from Last-Event-ID", async () => {
    const s = await open(`/v1/orgs/${orgA}/events/stream`, { authorization: alice });
    assert.equal(s.status, 200);
    assert.match(String(s.headers["content-type"]), /^text\/event-stream/);
    ok(await h.call("POST", `/v1/orgs/${orgB}/apps`, { auth: bob, body: { name: "bob-live" } }), 201);
    ok(await h.call("POST", `/v1/orgs/${orgA}/apps`, { auth: alice, body: { name: "live-1" } }), 201);
    ok(await h.call("POST", `/v1/orgs/${orgA}/apps`, { auth: alice, body: { name: "live-2" } }), 201);
    await waitUntil("two app events", () => s.events.filter((f) => f.event === "app.created").length >= 2);
    const frames = s.events.filter((f) => f.event !== "checkpoint");
    const data = frames.map((f) => JSON.parse(String(f.data)) as Envelope);
    assert.ok(
      data.every((e) => e.org_id === orgA),
      "no event of org B on org A's stream",
    );
    // "The head" is the snapshot horizon (§3.2): an event committed just before
    // the stream opened may still come (at-least-once) while another
    // transaction on the server holds the horizon back, as a loaded CI does.
    assert.deepEqual(
      data.map((e) => (e.payload as { name: string }).name).filter((n) => n.startsWith("live-")),
      ["live-1", "live-2"],
    );
    assert.ok(
      frames.every((f, i) => f.id === data[i]?.cursor),
      "ids are the envelopes' cursors",
    );

    const live1 = data.findIndex((e) => (e.payload as { name: string }).name === "live-1");
    const resumed = await open(`/v1/orgs/${orgA}/events/stream?event_type=app.created`, {
      authorization: alice,
      "last-event-id": String(frames[live1]?.id),
    });
    await waitUntil("the event after the resume point", () =>
      resumed.events.some((f) => f.event === "app.created"),
    );
    const first = JSON.parse(String(resumed.events.find((f) => f.event === "app.created")?.data));
    assert.equal(first.payload.name, "live-2");
  });

  test("refuses a bad cursor, a non-member and a non-operator with problem+json before streaming", async () => {
    const bad = await open(`/v1/orgs/${orgA}/events/stream`, {
      authorization: alice,
      "last-event-id": "nope",
    });
    await waitUntil("the answer", () => bad.ended);
    assert.equal(bad.status, 400);
    assert.match(String(bad.headers["content-type"]), /^application\/problem\+json/);
    assert.equal(JSON.parse(bad.body).code, "invalid_cursor");
    const denied = await open(`/v1/orgs/${orgA}/events/stream`, { authorization: bob });
    await waitUntil("the answer", () => denied.ended);
    assert.equal(denied.status, 403);
    const global = await open("/v1/events/stream", { authorization: alice });
    await waitUntil("the answer", () => global.ended);
    assert.equal(global.status, 403);
    assert.equal(JSON.parse(global.body).code, "insufficient_scope");
    const anon = await open("/v1/events/stream");
    await waitUntil("the answer", () => anon.ended);
    assert.equal(anon.status, 401);
  });

  test("the operators' stream carries every org's events", async () => {
    const s = await open("/v1/events/stream", { authorization: ops });
    assert.equal(s.status, 200);
    ok(await h.call("POST", `/v1/orgs/${orgA}/apps`, { auth: alice, body: { name: "g-a" } }), 201);
    ok(await h.call("POST", `/v1/orgs/${orgB}/apps`, { auth: bob, body: { name: "g-b" } }), 201);
    await waitUntil("both orgs' events", () => s.events.filter((f) => f.event === "app.created").length >= 2);
    const orgs = new Set(s.events.map((f) => JSON.parse(String(f.data)).org_id));
    assert.ok(orgs.has(orgA) && orgs.has(orgB));
  });
});
