// End to end over HTTP: node credentials (compliance 45), heartbeats, the
// plan, credential rotation, and the operator's PATCH/DELETE. The grace of
// a rotated-away credential is ended by moving expires_at in the test DB.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { assertInvalid, assertProblem, startTestServer, type TestServer } from "../tenancy/http-test-kit.ts";
import { bearer, enrollNode, nodeEventTypes, OP, OPERATOR_EMAIL, USER, wgKey } from "./test-kit.ts";

let t: TestServer;
before(async () => {
  t = await startTestServer([OPERATOR_EMAIL]);
});
after(async () => {
  await t?.close();
});

const heartbeat = (nodeId: string, credential: string, body: Record<string, unknown> = {}) =>
  t.call("POST", `/v1/nodes/${nodeId}/heartbeat`, {
    auth: bearer(credential),
    body: { agent_version: "0.1.0", instance_count: 0, ...body },
  });
const plan = (nodeId: string, credential: string) =>
  t.call("GET", `/v1/nodes/${nodeId}/plan`, { auth: bearer(credential) });
const getNode = (nodeId: string) => t.call("GET", `/v1/nodes/${nodeId}`, { auth: OP });

test("compliance 45: a node credential opens only its own node's endpoints", async () => {
  const a = await enrollNode(t, { hostname: "a" });
  const b = await enrollNode(t, { hostname: "b" });
  assertProblem(await heartbeat(b.nodeId, a.credential), 403, "forbidden");
  assertProblem(await plan(b.nodeId, a.credential), 403, "forbidden");
  assertProblem(
    await t.call("POST", `/v1/nodes/${b.nodeId}/credential/rotate`, { auth: bearer(a.credential) }),
    403,
    "forbidden",
  );
  assertProblem(await t.call("GET", `/v1/nodes/${a.nodeId}/plan`), 401, "unauthorized");
  assertProblem(await t.call("GET", `/v1/nodes/${a.nodeId}/plan`, { auth: OP }), 401, "invalid_token");
  assertProblem(await plan(a.nodeId, `plfm_node_${"A".repeat(43)}`), 401, "invalid_token");
  // The node credential is no user token either.
  assertProblem(await t.call("GET", "/v1/nodes", { auth: bearer(a.credential) }), 401, "invalid_token");

  const own = await plan(a.nodeId, a.credential);
  assert.equal(own.status, 200, JSON.stringify(own.body));
  assert.equal(own.body.spec_version, "v1");
  assert.equal(own.body.node_id, a.nodeId);
  assert.deepEqual(own.body.instances, []);
  assert.equal(typeof own.body.cursor, "string");
  const overlay = own.body.overlay as {
    node_overlay_ipv6: string;
    peers: { node_id: string; allowed_ips: string[] }[];
  };
  assert.equal(overlay.node_overlay_ipv6, a.overlay);
  const peerB = overlay.peers.find((p) => p.node_id === b.nodeId);
  assert.deepEqual(peerB?.allowed_ips, [`${b.overlay}/128`]);
  assert.equal(
    overlay.peers.some((p) => p.node_id === a.nodeId),
    false,
    "a node is not its own peer",
  );
});

test("heartbeats: the first makes the node active; degradation comes and goes; not events", async () => {
  const n = await enrollNode(t);
  assert.equal((await getNode(n.nodeId)).body.state, "enrolled");
  const before = await t.eventCount();
  const first = await heartbeat(n.nodeId, n.credential);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.deepEqual(first.body, { next_heartbeat_seconds: 10, node_state: "active" });
  const view = await getNode(n.nodeId);
  assert.equal(view.body.state, "active");
  assert.equal(typeof view.body.last_heartbeat_at, "string");
  assert.equal(await t.eventCount(), before + 1, "one node.state_changed");
  assert.equal((await heartbeat(n.nodeId, n.credential)).body.node_state, "active");
  assert.equal(await t.eventCount(), before + 1, "a heartbeat itself is not an event");

  const degraded = await heartbeat(n.nodeId, n.credential, { degraded_reason: "image_cache_full" });
  assert.equal(degraded.body.node_state, "degraded");
  assert.equal((await getNode(n.nodeId)).body.state_reason, "image_cache_full");
  assert.equal((await heartbeat(n.nodeId, n.credential)).body.node_state, "active");
  assert.deepEqual(await nodeEventTypes(t, n.nodeId), [
    "node.enrolled",
    "node.capacity_updated",
    "node.state_changed",
    "node.state_changed",
    "node.state_changed",
  ]);
  assertInvalid(await heartbeat(n.nodeId, n.credential, { instance_count: -1 }), "instance_count");
});

test("operator PATCH: draining, disabled, active; expected_version; the agent never overrides it", async () => {
  const n = await enrollNode(t);
  await heartbeat(n.nodeId, n.credential);
  const v = (await getNode(n.nodeId)).body.resource_version as number;
  const drain = await t.call("PATCH", `/v1/nodes/${n.nodeId}`, {
    auth: OP,
    body: { state: "draining", reason: "kernel upgrade", expected_version: v },
  });
  assert.equal(drain.status, 200, JSON.stringify(drain.body));
  assert.equal(drain.body.state, "draining");
  assert.equal(drain.body.state_reason, "kernel upgrade");
  assert.equal(drain.body.resource_version, v + 1);
  assert.deepEqual(drain.body.drain_blocked_by, []);
  assert.equal((await heartbeat(n.nodeId, n.credential)).body.node_state, "draining");

  const stale = await t.call("PATCH", `/v1/nodes/${n.nodeId}`, {
    auth: OP,
    body: { state: "disabled", expected_version: v },
  });
  assertProblem(stale, 409, "version_conflict");
  const same = await t.call("PATCH", `/v1/nodes/${n.nodeId}`, { auth: OP, body: { state: "draining" } });
  assert.equal(same.body.resource_version, v + 1, "no change, no event");
  const disabled = await t.call("PATCH", `/v1/nodes/${n.nodeId}`, { auth: OP, body: { state: "disabled" } });
  assert.equal(disabled.body.state, "disabled");
  assert.equal(
    (await heartbeat(n.nodeId, n.credential, { degraded_reason: "x" })).body.node_state,
    "disabled",
  );
  const active = await t.call("PATCH", `/v1/nodes/${n.nodeId}`, { auth: OP, body: { state: "active" } });
  assert.equal(active.body.state, "active");

  assertInvalid(
    await t.call("PATCH", `/v1/nodes/${n.nodeId}`, { auth: OP, body: { state: "offline" } }),
    "state",
  );
  assertProblem(
    await t.call("PATCH", `/v1/nodes/${n.nodeId}`, { auth: USER, body: { state: "draining" } }),
    403,
    "insufficient_scope",
  );
  const ghost = "node_01ARZ3NDEKTSV4RRFFQ69G5FAV";
  assertProblem(
    await t.call("PATCH", `/v1/nodes/${ghost}`, { auth: OP, body: { state: "active" } }),
    404,
    "not_found",
  );
  assertProblem(await getNode(ghost), 404, "not_found");

  const list = await t.call("GET", "/v1/nodes?limit=200", { auth: OP });
  assert.equal(list.status, 200);
  assert.ok((list.body.items as { node_id: string }[]).some((i) => i.node_id === n.nodeId));
});

test("credential rotation: the new one works, the old one until its grace ends", async () => {
  const n = await enrollNode(t);
  const r = await t.call("POST", `/v1/nodes/${n.nodeId}/credential/rotate`, { auth: bearer(n.credential) });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const fresh = r.body.node_credential as string;
  assert.match(fresh, /^plfm_node_/);
  assert.notEqual(fresh, n.credential);
  assert.equal((await heartbeat(n.nodeId, fresh)).status, 200);
  assert.equal((await heartbeat(n.nodeId, n.credential)).status, 200, "old credential valid 10 more minutes");
  await t.db.pool.query(
    "UPDATE node_credentials SET expires_at = now() - interval '1 second' WHERE node_id = $1 AND expires_at IS NOT NULL",
    [n.nodeId],
  );
  assertProblem(await heartbeat(n.nodeId, n.credential), 401, "invalid_token");
  assert.equal((await heartbeat(n.nodeId, fresh)).status, 200);
  assert.ok((await nodeEventTypes(t, n.nodeId)).includes("node.credential_rotated"));
});

test("DELETE revokes: the credential stops working, the node is gone, its WireGuard key is free", async () => {
  const n = await enrollNode(t);
  const other = await enrollNode(t);
  const key = (await getNode(n.nodeId)).body.wireguard_public_key as string;
  assertProblem(await t.call("DELETE", `/v1/nodes/${n.nodeId}`, { auth: USER }), 403, "insufficient_scope");
  const del = await t.call("DELETE", `/v1/nodes/${n.nodeId}`, { auth: OP });
  assert.equal(del.status, 204);
  assertProblem(await heartbeat(n.nodeId, n.credential), 401, "invalid_token");
  assertProblem(await plan(n.nodeId, n.credential), 401, "invalid_token");
  assertProblem(await getNode(n.nodeId), 404, "not_found");
  assertProblem(await t.call("DELETE", `/v1/nodes/${n.nodeId}`, { auth: OP }), 404, "not_found");
  const list = await t.call("GET", "/v1/nodes?limit=200", { auth: OP });
  assert.equal(
    (list.body.items as { node_id: string }[]).some((i) => i.node_id === n.nodeId),
    false,
  );
  assert.equal((await nodeEventTypes(t, n.nodeId)).at(-1), "node.revoked");
  const { rows } = await t.db.pool.query("SELECT state, is_deleted FROM nodes WHERE node_id = $1", [
    n.nodeId,
  ]);
  assert.deepEqual(rows[0], { state: "disabled", is_deleted: true });
  // Gone from the other node's peers.
  const peers = (
    (await plan(other.nodeId, other.credential)).body.overlay as { peers: { node_id: string }[] }
  ).peers;
  assert.equal(
    peers.some((p) => p.node_id === n.nodeId),
    false,
  );
  // The same machine may enroll again with its key.
  const again = await enrollNode(t, { wireguard_public_key: key });
  assert.notEqual(again.overlay, n.overlay);
});

test("PATCH with an Idempotency-Key replays; the same key on another body is a reuse", async () => {
  const n = await enrollNode(t);
  const key = `patch-${n.nodeId}`;
  const first = await t.call("PATCH", `/v1/nodes/${n.nodeId}`, {
    auth: OP,
    key,
    body: { state: "draining" },
  });
  assert.equal(first.status, 200);
  const events = await t.eventCount();
  const again = await t.call("PATCH", `/v1/nodes/${n.nodeId}`, {
    auth: OP,
    key,
    body: { state: "draining" },
  });
  assert.equal(again.status, 200);
  assert.equal(again.headers.get("idempotency-replayed"), "true");
  assert.equal(await t.eventCount(), events);
  const reuse = await t.call("PATCH", `/v1/nodes/${n.nodeId}`, {
    auth: OP,
    key,
    body: { state: "disabled" },
  });
  assertProblem(reuse, 409, "idempotency_key_reuse");
});

test("enrollment, credential rotation and revocation are audited (no secrets)", async () => {
  const n = await enrollNode(t);
  await t.call("POST", `/v1/nodes/${n.nodeId}/credential/rotate`, { auth: bearer(n.credential) });
  await t.call("DELETE", `/v1/nodes/${n.nodeId}`, { auth: OP });
  const { rows } = await t.db.pool.query(
    "SELECT action, actor_type, details::text AS details FROM audit_log WHERE target_id = $1 ORDER BY action",
    [n.nodeId],
  );
  assert.deepEqual(
    rows.map((r) => [r.action, r.actor_type]),
    [
      ["node.credential_rotated", "node"],
      ["node.enrolled", "enrollment_token"],
      ["node.revoked", "user"],
    ],
  );
  assert.equal(JSON.stringify(rows).includes("plfm_"), false);
  assert.ok(t.logLines.some((l) => l.audit === true && l.action === "node.revoked"));
});

test("WireGuard key rotation: a new generation peers learn; a key in use is 409 and writes nothing", async () => {
  const n = await enrollNode(t, { hostname: "rot" });
  const peer = await enrollNode(t, { hostname: "peer" });
  const url = `/v1/nodes/${n.nodeId}/wireguard-key`;
  const fresh = wgKey();
  const r = await t.call("POST", url, { auth: bearer(n.credential), body: { wireguard_public_key: fresh } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { node_id: n.nodeId, wireguard_public_key: fresh, key_generation: 2 });
  const view = (await getNode(n.nodeId)).body;
  assert.equal(view.wireguard_public_key, fresh);
  assert.equal(view.key_generation, 2);
  const peers = (
    (await plan(peer.nodeId, peer.credential)).body.overlay as { peers: Record<string, unknown>[] }
  ).peers;
  assert.equal(peers.find((p) => p.node_id === n.nodeId)?.public_key, fresh);
  // The same key again is a retry: same generation, no event.
  const events = (await nodeEventTypes(t, n.nodeId)).length;
  const again = await t.call("POST", url, {
    auth: bearer(n.credential),
    body: { wireguard_public_key: fresh },
  });
  assert.equal(again.body.key_generation, 2);
  assert.equal((await nodeEventTypes(t, n.nodeId)).length, events);
  // The peer's key is taken; a malformed key is a 400; another node's credential a 403.
  const peerKey = (await getNode(peer.nodeId)).body.wireguard_public_key as string;
  assertProblem(
    await t.call("POST", url, { auth: bearer(n.credential), body: { wireguard_public_key: peerKey } }),
    409,
    "wireguard_key_in_use",
  );
  assertInvalid(
    await t.call("POST", url, { auth: bearer(n.credential), body: { wireguard_public_key: "nope" } }),
    "wireguard_public_key",
  );
  assertProblem(
    await t.call("POST", url, { auth: bearer(peer.credential), body: { wireguard_public_key: wgKey() } }),
    403,
    "forbidden",
  );
  assert.equal((await nodeEventTypes(t, n.nodeId)).length, events);
  // The old key is free again: a new machine may enroll with it.
  const oldKey = (
    await t.db.pool.query(
      "SELECT payload->>'wireguard_public_key' AS k FROM events WHERE aggregate_id = $1 AND event_type = 'node.enrolled'",
      [n.nodeId],
    )
  ).rows[0].k;
  await enrollNode(t, { wireguard_public_key: oldKey });
  const { rows } = await t.db.pool.query(
    "SELECT count(*)::int AS n FROM audit_log WHERE action = 'node.wireguard_key_rotated' AND target_id = $1",
    [n.nodeId],
  );
  assert.equal(rows[0].n, 1);
});
