// End to end over HTTP: the plan stream sends the current plan, then a new
// one when the node's peers change; other nodes' credentials are refused.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { assertProblem, startTestServer, type TestServer } from "../tenancy/http-test-kit.ts";
import { bearer, enrollNode, OP, OPERATOR_EMAIL } from "./test-kit.ts";

let t: TestServer;
before(async () => {
  t = await startTestServer([OPERATOR_EMAIL]);
});
after(async () => {
  await t?.close();
});

interface SseEvent {
  id: string;
  event: string;
  data: Record<string, unknown>;
}

/** Reads `event: plan` messages from an open SSE response, one per call. */
function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  return async function next(): Promise<SseEvent> {
    for (;;) {
      const end = buffer.indexOf("\n\n");
      if (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (block.startsWith(":")) continue;
        const fields: Record<string, string> = Object.fromEntries(
          block.split("\n").map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 2)]),
        );
        return { id: fields.id ?? "", event: fields.event ?? "", data: JSON.parse(fields.data ?? "null") };
      }
      const { value, done } = await reader.read();
      if (done) throw new Error("stream ended");
      buffer += decoder.decode(value, { stream: true });
    }
  };
}

const peersOf = (e: SseEvent) =>
  ((e.data.overlay as { peers: { node_id: string }[] }).peers ?? []).map((p) => p.node_id);

test("plan stream: the current plan, then a new one when a peer enrolls or is revoked", async () => {
  const a = await enrollNode(t, { hostname: "a" });
  const b = await enrollNode(t, { hostname: "b" });
  const url = `${t.server.url}/v1/nodes/${a.nodeId}/plan/stream`;
  const foreign = await fetch(url, { headers: { authorization: bearer(b.credential) } });
  assertProblem(
    {
      status: foreign.status,
      body: (await foreign.json()) as Record<string, unknown>,
      headers: foreign.headers,
    },
    403,
    "forbidden",
  );

  const abort = new AbortController();
  const signal = AbortSignal.any([abort.signal, AbortSignal.timeout(15_000)]);
  try {
    const res = await fetch(url, { headers: { authorization: bearer(a.credential) }, signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    assert.ok(res.body);
    const next = sseReader(res.body);
    const first = await next();
    assert.equal(first.event, "plan");
    assert.equal(first.data.node_id, a.nodeId);
    assert.equal(first.id, first.data.cursor);
    assert.deepEqual(peersOf(first), [b.nodeId]);

    const c = await enrollNode(t, { hostname: "c" });
    const second = await next();
    assert.deepEqual(peersOf(second).sort(), [b.nodeId, c.nodeId].sort());
    assert.notEqual(second.data.plan_id, first.data.plan_id);

    assert.equal((await t.call("DELETE", `/v1/nodes/${b.nodeId}`, { auth: OP })).status, 204);
    const third = await next();
    assert.deepEqual(peersOf(third), [c.nodeId]);
  } finally {
    abort.abort();
  }
});
