// End to end over HTTP: GET E/logs/stream (spec platform.md §4.3, §4.5).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { assertProblem } from "../http/test-server.ts";
import { logStreamSettings } from "./stream.ts";
import { alice, entry, type LogsWorld, startLogsWorld, user } from "./test-kit.ts";

let w: LogsWorld;
before(async () => {
  w = await startLogsWorld();
});
after(async () => w?.t.close());

interface Message {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** A raw SSE client: messages in arrival order, `next` with a deadline. */
async function openStream(query = "", headers: Record<string, string> = {}, auth = alice) {
  const abort = new AbortController();
  const res = await fetch(`${w.t.server.url}${w.envUrl}/logs/stream${query}`, {
    headers: { authorization: auth, ...headers },
    signal: abort.signal,
  });
  const queue: Message[] = [];
  const waiter: { wake: (() => void) | null } = { wake: null };
  let buffer = "";
  let ended = false;
  if (res.status === 200 && res.body) {
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          for (let i = buffer.indexOf("\n\n"); i >= 0; i = buffer.indexOf("\n\n")) {
            const block = buffer.slice(0, i);
            buffer = buffer.slice(i + 2);
            const m: Message = {};
            for (const line of block.split("\n")) {
              if (line.startsWith(":")) m.comment = line.slice(1);
              else {
                const [k, ...v] = line.split(": ");
                (m as Record<string, string>)[k as string] = v.join(": ");
              }
            }
            queue.push(m);
          }
          waiter.wake?.();
        }
      } catch {
        // aborted
      } finally {
        ended = true;
        waiter.wake?.();
      }
    })();
  }
  const next = async (pred: (m: Message) => boolean = (m) => m.event === "log", ms = 5000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = queue.findIndex(pred);
      if (i >= 0) return queue.splice(0, i + 1).pop() as Message;
      if (ended || Date.now() > deadline) return null;
      await new Promise<void>((r) => {
        waiter.wake = r;
        setTimeout(r, 50);
      });
    }
  };
  return { res, next, close: () => abort.abort() };
}

const lineOf = (m: Message | null) => (m?.data ? (JSON.parse(m.data).line as string) : null);

test("a line posted after connecting arrives as event: log with a cursor id", async () => {
  const inst = await w.allocate("s1");
  const s = await openStream("?process_type=s1");
  assert.equal(s.res.status, 200);
  assert.match(s.res.headers.get("content-type") ?? "", /^text\/event-stream/);
  await w.post(w.node1, [entry(inst, "live one")]);
  const m = await s.next();
  assert.equal(lineOf(m), "live one");
  assert.match(m?.id ?? "", /^c1\./);
  assert.deepEqual(Object.keys(JSON.parse(m?.data ?? "{}")).sort(), [
    "instance_id",
    "line",
    "process_type",
    "stream",
    "truncated",
    "ts",
  ]);
  s.close();
});

test("resume: Last-Event-ID yields exactly the later lines, and wins over ?after", async () => {
  const inst = await w.allocate("s2");
  const s = await openStream("?process_type=s2");
  await w.post(w.node1, [entry(inst, "a"), entry(inst, "b")]);
  await w.post(w.node1, [entry(inst, "c")]);
  const got = [await s.next(), await s.next(), await s.next()];
  assert.deepEqual(got.map(lineOf), ["a", "b", "c"]);
  s.close();
  await w.post(w.node1, [entry(inst, "d")]);

  const [idA, idB] = [got[0]?.id as string, got[1]?.id as string];
  const resumed = await openStream(`?process_type=s2&after=${idB}`, { "last-event-id": idA });
  const again = [await resumed.next(), await resumed.next(), await resumed.next()];
  assert.deepEqual(again.map(lineOf), ["b", "c", "d"]);
  assert.equal(await resumed.next(undefined, 300), null, "nothing more");
  resumed.close();

  const byQuery = await openStream(`?process_type=s2&after=${idB}`);
  assert.deepEqual([lineOf(await byQuery.next()), lineOf(await byQuery.next())], ["c", "d"]);
  byQuery.close();

  const bad = await w.t.call("GET", `${w.envUrl}/logs/stream?after=garbage`, { auth: alice });
  assertProblem(bad, 400, "invalid_cursor");
});

test("heartbeats, and a checkpoint when the filter skipped rows and nothing was sent", async () => {
  const saved = { ...logStreamSettings };
  Object.assign(logStreamSettings, { heartbeatMs: 100, checkpointAfterMs: 300 });
  try {
    const inst = await w.allocate("s3");
    const s = await openStream("?process_type=never");
    assert.ok(await s.next((m) => m.comment === "heartbeat", 2000), "a :heartbeat comment");
    await w.post(w.node1, [entry(inst, "skipped")]);
    const cp = await s.next((m) => m.event === "checkpoint", 3000);
    assert.ok(cp, "a checkpoint");
    assert.equal(cp.data, "{}");
    assert.match(cp.id ?? "", /^c1\./);
    s.close();
    // Resuming from the checkpoint does not replay the skipped line to an unfiltered reader.
    const after = await openStream("", { "last-event-id": cp.id as string });
    await w.post(w.node1, [entry(inst, "later")]);
    assert.equal(lineOf(await after.next()), "later");
    after.close();
  } finally {
    Object.assign(logStreamSettings, saved);
  }
});

test("at most 5 open streams per token: the 6th gets 429 with Retry-After; a closed one frees its slot", async () => {
  const carol = user("carol@example.com");
  await w.t.call("POST", `/v1/orgs/${w.orgA}/members`, {
    auth: alice,
    body: { email: "carol@example.com", role: "readonly" },
  });
  const open = [];
  for (let i = 0; i < 5; i++) {
    const s = await openStream("", {}, carol);
    assert.equal(s.res.status, 200);
    open.push(s);
  }
  const sixth = await w.t.call("GET", `${w.envUrl}/logs/stream`, { auth: carol });
  assertProblem(sixth, 429, "rate_limited");
  assert.ok(Number(sixth.headers.get("retry-after")) >= 1);
  const other = await openStream("", {}, alice);
  assert.equal(other.res.status, 200, "another token of the org still may");
  other.close();

  open.pop()?.close();
  const deadline = Date.now() + 3000;
  let again = await openStream("", {}, carol);
  while (again.res.status === 429 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    again = await openStream("", {}, carol);
  }
  assert.equal(again.res.status, 200);
  again.close();
  for (const s of open) s.close();
});
