// End to end over HTTP: exec grants, reading and revoking sessions, their
// authorisation and rate limits (spec platform.md §4.4, §4.5, §7.8).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { tokenPattern } from "../auth/tokens.ts";
import { assertProblem } from "../http/test-server.ts";
import { alice, bob, grant, instance, sessionEvents, startWorld, type World } from "./test-kit.ts";

let w: World;
before(async () => {
  w = await startWorld();
});
after(async () => w?.t.close());

const execUrl = (inst: string) => `${w.envUrl}/instances/${inst}/exec`;

describe("exec grants", () => {
  test("a ready instance: 201 with a single-use plfm_ex_ token, an event without it, an audit row", async () => {
    const inst = await instance(w, w.node1);
    const g = await grant(w, inst, { command: ["ls", "-l"], tty: true });
    assert.match(g.session_id, /^exec_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(g.connect_url, `/v1/exec-sessions/${g.session_id}/connect`);
    assert.match(g.session_token, new RegExp(tokenPattern("exec")));
    assert.equal(g.expires_in_seconds, 60);

    const events = await sessionEvents(w, g.session_id);
    assert.deepEqual(
      events.map((e) => e.event_type),
      ["exec_session.granted"],
    );
    const p = events[0]?.payload ?? {};
    assert.equal(p.instance_id, inst);
    assert.equal(p.app_id, w.appId);
    assert.deepEqual(p.requested_command, ["ls", "-l"]);
    assert.equal(p.tty, true);
    assert.equal(JSON.stringify(p).includes(g.session_token), false);

    const { rows: tokens } = await w.t.db.pool.query(
      "SELECT token_hash, used_at FROM exec_session_tokens WHERE session_id = $1",
      [g.session_id],
    );
    assert.equal(tokens.length, 1);
    assert.match(tokens[0].token_hash, /^[0-9a-f]{64}$/);
    assert.equal(tokens[0].used_at, null);

    const { rows: audit } = await w.t.db.pool.query(
      "SELECT action, details FROM audit_log WHERE target_id = $1",
      [g.session_id],
    );
    assert.deepEqual(
      audit.map((a) => a.action),
      ["exec_session.granted"],
    );
    assert.deepEqual(audit[0].details.command, ["ls", "-l"]);
    const logged = w.t.logLines.filter((l) => l.audit === true && l.target_id === g.session_id);
    assert.equal(logged.length, 1);
    assert.equal(JSON.stringify(w.t.logLines).includes(g.session_token), false);

    const read = await w.t.call("GET", `/v1/exec-sessions/${g.session_id}`, { auth: alice });
    assert.equal(read.status, 200, JSON.stringify(read.body));
    assert.equal(read.body.status, "granted");
    assert.equal(read.body.instance_id, inst);
    assert.equal(read.body.connect_timeout_seconds, 30);
    assert.equal("session_token" in read.body, false);
  });

  test("an instance that is not ready: 409 instance_not_running; one not in the env: 404", async () => {
    const booting = await instance(w, w.node1, "booting");
    const allocated = await instance(w, w.node1, null);
    const before = await w.t.eventCount();
    const r = await w.t.call("POST", execUrl(booting), { auth: alice, body: { command: ["sh"], tty: true } });
    assertProblem(r, 409, "instance_not_running");
    const r2 = await w.t.call("POST", execUrl(allocated), {
      auth: alice,
      body: { command: ["sh"], tty: true },
    });
    assertProblem(r2, 409, "instance_not_running");
    const missing = await w.t.call("POST", execUrl("inst_01HZZZZZZZZZZZZZZZZZZZZZZZ"), {
      auth: alice,
      body: { command: ["sh"], tty: true },
    });
    assertProblem(missing, 404, "not_found");
    assert.equal(await w.t.eventCount(), before);
  });

  test("the body's bounds: a command, and ttls within their ranges", async () => {
    const inst = await instance(w, w.node1);
    for (const [body, field] of [
      [{ command: [], tty: false }, "command"],
      [{ command: ["sh"] }, "tty"],
      [{ command: ["sh"], tty: false, token_ttl_seconds: 29 }, "token_ttl_seconds"],
      [{ command: ["sh"], tty: false, token_ttl_seconds: 301 }, "token_ttl_seconds"],
      [{ command: ["sh"], tty: false, session_ttl_seconds: 86_401 }, "session_ttl_seconds"],
      [{ command: ["sh"], tty: false, connect_timeout_seconds: 121 }, "connect_timeout_seconds"],
    ] as const) {
      const r = await w.t.call("POST", execUrl(inst), { auth: alice, body });
      assertProblem(r, 400, "invalid_argument", field);
    }
  });

  test("an Idempotency-Key replay answers 409 conflict: the token was shown once", async () => {
    const inst = await instance(w, w.node1);
    const body = { command: ["sh"], tty: true };
    const first = await w.t.call("POST", execUrl(inst), { auth: alice, body, key: "exec-key-0001" });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const again = await w.t.call("POST", execUrl(inst), { auth: alice, body, key: "exec-key-0001" });
    assertProblem(again, 409, "conflict");
    assert.equal(again.body.session_id, first.body.session_id);
    assert.equal(JSON.stringify(again.body).includes("plfm_ex_"), false);
    const { rows } = await w.t.db.pool.query(
      "SELECT count(*)::int AS n FROM events WHERE event_type = 'exec_session.granted' AND payload->>'instance_id' = $1",
      [inst],
    );
    assert.equal(rows[0].n, 1);
  });

  test("2 live sessions per instance, then 429 rate_limited with Retry-After; an ended one frees its slot", async () => {
    const inst = await instance(w, w.node1);
    const a = await grant(w, inst);
    await grant(w, inst);
    const third = await w.t.call("POST", execUrl(inst), {
      auth: alice,
      body: { command: ["sh"], tty: false },
    });
    assertProblem(third, 429, "rate_limited");
    assert.ok(Number(third.headers.get("retry-after")) >= 1);
    const del = await w.t.call("DELETE", `/v1/exec-sessions/${a.session_id}`, { auth: alice });
    assert.equal(del.status, 204, JSON.stringify(del.body));
    await grant(w, inst);
  });

  test("100 grants per org per hour, counted from the command side", async () => {
    const inst = await instance(w, w.node1);
    // Fill the hour with 100 rows of ended sessions (no concurrency used).
    await w.t.db.pool.query(
      `INSERT INTO exec_session_tokens (token_hash, session_id, org_id, env_id, instance_id, node_id,
              created_at, expires_at, session_expires_at, ended_at)
       SELECT md5(g::text || random()::text), 'exec_fill_' || g, $1, $2, $3, $4, now() - interval '30 minutes',
              now(), now(), now()
         FROM generate_series(1, 100) g`,
      [w.orgId, w.envId, inst, w.node1.nodeId],
    );
    const r = await w.t.call("POST", execUrl(inst), { auth: alice, body: { command: ["sh"], tty: false } });
    assertProblem(r, 429, "rate_limited");
    const after = Number(r.headers.get("retry-after"));
    assert.ok(after > 29 * 60 && after <= 30 * 60 + 5, `retry-after ${after}`);
    await w.t.db.pool.query("DELETE FROM exec_session_tokens WHERE session_id LIKE 'exec_fill_%'");
  });
});

describe("exec sessions: read and revoke", () => {
  test("DELETE ends a granted session (operator_revoked) and its token no longer connects", async () => {
    const inst = await instance(w, w.node1);
    const g = await grant(w, inst);
    const del = await w.t.call("DELETE", `/v1/exec-sessions/${g.session_id}`, { auth: alice });
    assert.equal(del.status, 204, JSON.stringify(del.body));
    const read = await w.t.call("GET", `/v1/exec-sessions/${g.session_id}`, { auth: alice });
    assert.equal(read.body.status, "ended");
    assert.equal(read.body.end_reason, "operator_revoked");
    const again = await w.t.call("DELETE", `/v1/exec-sessions/${g.session_id}`, { auth: alice });
    assert.equal(again.status, 204);
    const ended = (await sessionEvents(w, g.session_id)).filter((e) => e.event_type === "exec_session.ended");
    assert.equal(ended.length, 1);
  });

  test("a non-member of the session's org gets 404 on GET and DELETE, and changes nothing", async () => {
    const inst = await instance(w, w.node1);
    const g = await grant(w, inst);
    const before = await w.t.eventCount();
    assertProblem(
      await w.t.call("GET", `/v1/exec-sessions/${g.session_id}`, { auth: bob }),
      404,
      "not_found",
    );
    assertProblem(
      await w.t.call("DELETE", `/v1/exec-sessions/${g.session_id}`, { auth: bob }),
      404,
      "not_found",
    );
    assertProblem(
      await w.t.call("GET", "/v1/exec-sessions/exec_01HZZZZZZZZZZZZZZZZZZZZZZZ", { auth: alice }),
      404,
      "not_found",
    );
    assertProblem(await w.t.call("GET", `/v1/exec-sessions/${g.session_id}`), 401, "unauthorized");
    assert.equal(await w.t.eventCount(), before);
  });

  test("a readonly member cannot grant (insufficient_scope)", async () => {
    const inst = await instance(w, w.node1);
    const m = await w.t.call("POST", `/v1/orgs/${w.orgId}/members`, {
      auth: alice,
      body: { email: "rita@example.com", role: "readonly" },
    });
    assert.equal(m.status, 201, JSON.stringify(m.body));
    const r = await w.t.call("POST", execUrl(inst), {
      auth: "Bearer user:rita@example.com",
      body: { command: ["sh"], tty: false },
    });
    assertProblem(r, 403, "insufficient_scope");
  });
});
