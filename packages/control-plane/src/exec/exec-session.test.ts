// The exec session aggregate and the frame helpers, pure: each step happens
// once, and an ended session is ended exactly once.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isKernelError, type NewEvent, type StoredEvent } from "@plfm/kernel";
import {
  decideConnect,
  decideEnd,
  decideGrant,
  type ExecSessionState,
  evolveExecSession,
  initialExecSession,
} from "./exec-session.ts";
import { exitCodeOf, exitFrame, FRAME, jsonFrame } from "./frames.ts";

const ID = "exec_01HZZZZZZZZZZZZZZZZZZZZZZZ";
const at = new Date("2026-01-01T00:00:00Z");

function fold(s: ExecSessionState, events: NewEvent[]): ExecSessionState {
  return events.reduce(
    (acc, e, i) =>
      evolveExecSession(acc, {
        ...e,
        aggregateSeq: acc.version + i + 1,
        occurredAt: at,
      } as unknown as StoredEvent),
    s,
  );
}

const granted = () =>
  fold(
    initialExecSession(),
    decideGrant(initialExecSession(), ID, {
      orgId: "org_1",
      appId: "app_1",
      envId: "env_1",
      instanceId: "inst_1",
      nodeId: "node_1",
      command: ["sh"],
      tty: true,
      expiresAt: new Date(at.getTime() + 3_600_000),
      tokenExpiresAt: new Date(at.getTime() + 60_000),
      connectTimeoutSeconds: 30,
    }),
  );

test("granted → connected → ended, and the ended one appends nothing more", () => {
  const g = granted();
  assert.equal(g.status, "granted");
  assert.equal(g.nodeId, "node_1");
  const connect = decideConnect(g, ID, at);
  assert.equal(connect[0]?.payload.node_id, "node_1");
  const c = fold(g, connect);
  assert.equal(c.status, "connected");
  const end = decideEnd(c, ID, at, 0, "exited");
  assert.equal(end[0]?.payload.end_reason, "exited");
  const e = fold(c, end);
  assert.equal(e.status, "ended");
  assert.deepEqual(decideEnd(e, ID, at, null, "operator_revoked"), []);
});

test("a second connect, a connect after the end and a grant twice are refused", () => {
  const c = fold(granted(), decideConnect(granted(), ID, at));
  assert.throws(
    () => decideConnect(c, ID, at),
    (e) => isKernelError(e, "invalid_token"),
  );
  const e = fold(c, decideEnd(c, ID, at, null, "timeout"));
  assert.throws(
    () => decideConnect(e, ID, at),
    (e) => isKernelError(e, "invalid_token"),
  );
  assert.throws(
    () => decideEnd(initialExecSession(), ID, at, null, "timeout"),
    (e) => isKernelError(e, "not_found"),
  );
  assert.throws(
    () => decideGrant(granted(), ID, { ...granted(), expiresAt: at, tokenExpiresAt: at }),
    (e) => isKernelError(e, "conflict"),
  );
});

test("frames: the exit frame carries its code; a malformed one reads as null", () => {
  const f = exitFrame(3, "exited");
  assert.equal(f[0], FRAME.exit);
  assert.equal(exitCodeOf(f), 3);
  assert.equal(exitCodeOf(jsonFrame(FRAME.exit, { exit_code: "3" })), null);
  assert.equal(exitCodeOf(Buffer.from([FRAME.exit, 0x7b])), null);
});
