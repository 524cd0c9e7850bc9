// End to end with real WebSockets: the client's connect, the agent's
// exec_request on its plan stream and its attach, the splice, and every way a
// session ends (spec platform.md §7.2, §7.8, compliance 62).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { FRAME } from "./frames.ts";
import {
  Agent,
  alice,
  dial,
  dialOpen,
  endedEvent,
  grant,
  instance,
  json,
  Peer,
  sessionEvents,
  startWorld,
  type World,
  wsUrl,
} from "./test-kit.ts";

let w: World;
let agent: Agent;
before(async () => {
  w = await startWorld();
  agent = new Agent(w, w.node1);
  await agent.open();
});
after(async () => {
  agent?.close();
  await w?.t.close();
});

const connectUrl = (g: { connect_url: string }) => wsUrl(w, g.connect_url);
const withToken = (g: { session_token: string }) => ({ authorization: `Bearer ${g.session_token}` });

/** A granted, connected and attached session: the client, the agent's socket, the exec_request. */
async function spliced(body: Record<string, unknown> = {}) {
  const inst = await instance(w, w.node1);
  const g = await grant(w, inst, body);
  const client = await dialOpen(connectUrl(g), withToken(g));
  const request = await agent.request(g.session_id);
  const side = await agent.attach(g.session_id);
  assert.ok(side instanceof Peer, JSON.stringify(side));
  return { inst, g, client, agentSide: side, request };
}

describe("exec sessions over WebSocket", () => {
  test("a full session: exec_request, splice both ways, exit 0 forwarded, granted/connected/ended", async () => {
    const { inst, g, client, agentSide, request } = await spliced({
      command: ["sh", "-c", "cat"],
      tty: true,
    });
    assert.deepEqual(request, {
      session_id: g.session_id,
      instance_id: inst,
      command: ["sh", "-c", "cat"],
      tty: true,
    });
    client.send(FRAME.stdin, "hello\n");
    const stdin = await agentSide.frame(FRAME.stdin);
    assert.equal(stdin.subarray(1).toString(), "hello\n");
    // The simulated agent echoes stdin as stdout, then exits 0.
    agentSide.ws.send(Buffer.concat([Buffer.from([FRAME.stdout]), stdin.subarray(1)]));
    const out = await client.frame(FRAME.stdout);
    assert.equal(out.subarray(1).toString(), "hello\n");
    agentSide.send(FRAME.exit, { type: "exit", exit_code: 0 });
    const exit = await client.frame(FRAME.exit);
    assert.equal(json(exit).exit_code, 0);
    assert.equal(client.frames.at(-1)?.[0], FRAME.exit, "0x11 is the last frame");
    await client.closed;
    await agentSide.closed;

    const ended = await endedEvent(w, g.session_id);
    assert.equal(ended.exit_code, 0);
    assert.equal(ended.end_reason, "exited");
    const events = await sessionEvents(w, g.session_id);
    assert.deepEqual(
      events.map((e) => e.event_type),
      ["exec_session.granted", "exec_session.connected", "exec_session.ended"],
    );
    assert.equal(events[1]?.payload.instance_id, inst);
    const everything = JSON.stringify(events) + JSON.stringify(w.t.logLines);
    assert.equal(everything.includes(g.session_token), false, "the token is in no event and no log line");
    const { rows } = await w.t.db.pool.query("SELECT payload::text AS p FROM events");
    assert.equal(
      rows.some((r) => r.p.includes("plfm_ex_")),
      false,
    );
  });

  test("the token is single use: a second connect is refused with 401 before any upgrade", async () => {
    const inst = await instance(w, w.node1);
    const g = await grant(w, inst);
    const first = await dialOpen(`${connectUrl(g)}?token=${g.session_token}`);
    const second = await dial(connectUrl(g), withToken(g));
    assert.ok(!(second instanceof Peer));
    assert.equal(second.status, 401);
    assert.equal(second.body.code, "invalid_token");
    // The refused second connect left the first session alone: it still splices and exits.
    await agent.request(g.session_id);
    const side = await agent.attach(g.session_id);
    assert.ok(side instanceof Peer, JSON.stringify(side));
    side.send(FRAME.exit, { type: "exit", exit_code: 7 });
    assert.equal(json(await first.frame(FRAME.exit)).exit_code, 7);
    const ended = await endedEvent(w, g.session_id);
    assert.equal(ended.end_reason, "exited");
    assert.equal(ended.exit_code, 7);
    // It travelled in the query string, which request logs leave out.
    assert.equal(JSON.stringify(w.t.logLines).includes(g.session_token), false);
  });

  test("an expired token, a missing one and another session's are refused; none consumes anything", async () => {
    const inst = await instance(w, w.node1);
    const g = await grant(w, inst);
    const other = await grant(w, await instance(w, w.node1));
    await w.t.db.pool.query(
      "UPDATE exec_session_tokens SET expires_at = now() - interval '1 second' WHERE session_id = $1",
      [g.session_id],
    );
    const expired = await dial(connectUrl(g), withToken(g));
    assert.ok(!(expired instanceof Peer));
    assert.equal(expired.status, 401);
    assert.equal(expired.body.code, "invalid_token");
    const none = await dial(connectUrl(other));
    assert.ok(!(none instanceof Peer));
    assert.equal(none.status, 401);
    const crossed = await dial(connectUrl(other), withToken(g));
    assert.ok(!(crossed instanceof Peer));
    assert.equal(crossed.status, 401);
    // A plain GET (no upgrade) never burns the token.
    const plain = await fetch(`${w.t.server.url}${other.connect_url}`, { headers: withToken(other) });
    assert.equal(plain.status, 400);
    const ok = await dialOpen(connectUrl(other), withToken(other));
    ok.ws.close();
    assert.deepEqual(
      (await sessionEvents(w, g.session_id)).map((e) => e.event_type),
      ["exec_session.granted"],
    );
  });

  test("DELETE mid-session: the client gets 0x11 operator_revoked, the agent 0x10 close", async () => {
    const { g, client, agentSide } = await spliced();
    const del = await w.t.call("DELETE", `/v1/exec-sessions/${g.session_id}`, { auth: alice });
    assert.equal(del.status, 204, JSON.stringify(del.body));
    const exit = json(await client.frame(FRAME.exit));
    assert.deepEqual(exit, { type: "exit", exit_code: null, reason: "operator_revoked" });
    assert.deepEqual(json(await agentSide.frame(FRAME.control)), { type: "close" });
    await client.closed;
    const read = await w.t.call("GET", `/v1/exec-sessions/${g.session_id}`, { auth: alice });
    assert.equal(read.body.status, "ended");
    assert.equal(read.body.end_reason, "operator_revoked");
    assert.equal((await endedEvent(w, g.session_id)).end_reason, "operator_revoked");
  });

  test("the client going away tells the agent (0x10 close) and ends client_disconnect", async () => {
    const { g, client, agentSide } = await spliced();
    client.ws.close();
    assert.deepEqual(json(await agentSide.frame(FRAME.control)), { type: "close" });
    await agentSide.closed;
    assert.equal((await endedEvent(w, g.session_id)).end_reason, "client_disconnect");
  });

  test("only the hosting node attaches: another node's credential gets 403", async () => {
    const inst = await instance(w, w.node1);
    const g = await grant(w, inst);
    const client = await dialOpen(connectUrl(g), withToken(g));
    const node2 = new Agent(w, w.node2);
    // node2 on its own path, for node1's session; then on node1's path.
    for (const path of [w.node2.nodeId, w.node1.nodeId]) {
      const r = await dial(wsUrl(w, `/v1/nodes/${path}/exec-sessions/${g.session_id}/attach`), {
        authorization: `Bearer ${w.node2.credential}`,
      });
      assert.ok(!(r instanceof Peer));
      assert.equal(r.status, 403, JSON.stringify(r.body));
    }
    const anonymous = await dial(
      wsUrl(w, `/v1/nodes/${w.node1.nodeId}/exec-sessions/${g.session_id}/attach`),
    );
    assert.ok(!(anonymous instanceof Peer));
    assert.equal(anonymous.status, 401);
    assert.equal(node2.has(g.session_id), false);
    client.ws.close();
    await endedEvent(w, g.session_id);
  });

  test("no agent within connect_timeout: the client gets 0x11 connect_timeout", async () => {
    // node2 has no agent streaming, so nobody attaches.
    const inst = await instance(w, w.node2);
    const g = await grant(w, inst, { connect_timeout_seconds: 1 });
    const started = Date.now();
    const client = await dialOpen(connectUrl(g), withToken(g));
    const exit = json(await client.frame(FRAME.exit, 5000));
    assert.deepEqual(exit, { type: "exit", exit_code: null, reason: "connect_timeout" });
    assert.ok(Date.now() - started >= 900, "not before the timeout");
    await client.closed;
    assert.equal((await endedEvent(w, g.session_id)).end_reason, "connect_timeout");
  });

  test("a session past its session_ttl ends with timeout on both sides", async () => {
    const { g, client, agentSide } = await spliced({ session_ttl_seconds: 1 });
    assert.equal(json(await client.frame(FRAME.exit, 5000)).reason, "timeout");
    assert.deepEqual(json(await agentSide.frame(FRAME.control)), { type: "close" });
    assert.equal((await endedEvent(w, g.session_id)).end_reason, "timeout");
  });

  test("the agent dropping its socket ends the session agent_disconnect", async () => {
    const { g, client, agentSide } = await spliced();
    agentSide.ws.terminate();
    assert.equal(json(await client.frame(FRAME.exit)).reason, "agent_disconnect");
    assert.equal((await endedEvent(w, g.session_id)).end_reason, "agent_disconnect");
  });
});

describe("exec sessions at server shutdown", () => {
  test("live sessions end with 0x11 server_shutdown before the sockets close", async () => {
    // A world of its own with no plan stream open: an aborted SSE client holds
    // the server's HTTP close for its 10 s bound (fleet's plan stream), which
    // would hide whether the exec sockets close promptly.
    const own = await startWorld();
    try {
      const g = await grant(own, await instance(own, own.node1));
      const client = await dialOpen(wsUrl(own, g.connect_url), withToken(g));
      // The agent knows the id without its plan stream; attach only needs the live session.
      const side = await dial(
        wsUrl(own, `/v1/nodes/${own.node1.nodeId}/exec-sessions/${g.session_id}/attach`),
        {
          authorization: `Bearer ${own.node1.credential}`,
        },
      );
      assert.ok(side instanceof Peer, JSON.stringify(side));
      const started = Date.now();
      await own.t.server.close();
      assert.ok(Date.now() - started < 5000, "the exec sockets do not hold the close");
      assert.equal(json(await client.frame(FRAME.exit)).reason, "server_shutdown");
      assert.deepEqual(json(await side.frame(FRAME.control)), { type: "close" });
      // The server's pool is closed now; the test database's own pool still reads.
      const { rows } = await own.t.db.pool.query(
        "SELECT payload FROM events WHERE aggregate_id = $1 AND event_type = 'exec_session.ended'",
        [g.session_id],
      );
      assert.equal(rows.length, 1);
      assert.equal(rows[0].payload.end_reason, "server_shutdown");
    } finally {
      await own.t.close();
    }
  });
});
