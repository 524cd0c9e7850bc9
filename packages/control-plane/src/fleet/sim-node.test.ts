// The simulated node against a real server over HTTP: it enrolls and goes
// active, runs an allocated instance to ready (or failed), drains one to
// stopped, and its heartbeats can be stopped and resumed.
import assert from "node:assert/strict";
import { createServer, type Socket, connect as tcpConnect } from "node:net";
import { after, before, test } from "node:test";
import { allocateInstance } from "../apps/test-allocate.ts";
import { startTestServer, type TestServer } from "../tenancy/http-test-kit.ts";
import { createTenant, eventually, OWNER, type Tenant } from "./plan-test-kit.ts";
import { type SimNode, startSimNode } from "./sim-node.ts";
import { OP, OPERATOR_EMAIL } from "./test-kit.ts";

let t: TestServer;
let tenant: Tenant;
const nodes: SimNode[] = [];
before(async () => {
  t = await startTestServer([OPERATOR_EMAIL]);
  tenant = await createTenant(t);
});
after(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  await t?.close();
});

const start = async (o: Partial<Parameters<typeof startSimNode>[1]> = {}) => {
  const n = await startSimNode(t.server.url, { operatorAuth: OP, heartbeatMs: 100, ...o });
  nodes.push(n);
  return n;
};
const allocate = (nodeId: string, processType = "web") =>
  allocateInstance(t, {
    orgId: tenant.orgId,
    appId: tenant.appId,
    envId: tenant.envId,
    nodeId,
    processType,
    releaseId: tenant.releaseId,
  });
const viewOf = async (inst: string) =>
  (
    await t.db.pool.query(
      "SELECT status, desired_state, reason_code, boot_id FROM instances WHERE instance_id = $1",
      [inst],
    )
  ).rows[0] as { status: string; desired_state: string; reason_code: string | null; boot_id: string | null };
const statusHistory = async (inst: string) =>
  (
    await t.db.pool.query(
      `SELECT payload->>'status' AS status FROM events
        WHERE aggregate_type = 'instance' AND aggregate_id = $1 AND event_type = 'instance.status_changed'
        ORDER BY event_id`,
      [inst],
    )
  ).rows.map((r) => r.status as string);

test("enrolls and is active once start returns", async () => {
  const n = await start({ hostname: "sim-active" });
  const r = await t.call("GET", `/v1/nodes/${n.nodeId}`, { auth: OP });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.state, "active");
  assert.equal(r.body.hostname, "sim-active");
  assert.equal(n.lastError, null);
});

test("an allocated instance becomes ready; a drain ends stopped and the node forgets it", async () => {
  const n = await start({ bootMs: 20, drainMs: 20 });
  const inst = await allocate(n.nodeId);
  await eventually("ready", async () => ((await viewOf(inst)).status === "ready" ? true : undefined));
  assert.deepEqual(await statusHistory(inst), ["preparing", "booting", "ready"]);
  assert.equal(n.statuses().get(inst), "ready");
  assert.match(String((await viewOf(inst)).boot_id), /^boot_/);

  const r = await t.call("POST", `${tenant.envUrl}/instances/${inst}/restart`, {
    auth: OWNER,
    key: `drain-${inst}`,
  });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  await eventually("stopped", async () => ((await viewOf(inst)).status === "stopped" ? true : undefined));
  assert.deepEqual(await statusHistory(inst), ["preparing", "booting", "ready", "draining", "stopped"]);
  // Stopped instances leave the plan, and the node forgets what is absent.
  await eventually("forgotten", async () => (n.statuses().has(inst) ? undefined : true));
  assert.equal(n.lastError, null, String(n.lastError));
});

test("fail(workload) makes the boot end failed with its reason code", async () => {
  const n = await start({ fail: (w) => (w.process_type === "worker" ? "healthcheck_failed" : null) });
  const worker = await allocate(n.nodeId, "worker");
  const web = await allocate(n.nodeId, "web");
  await eventually("failed", async () => ((await viewOf(worker)).status === "failed" ? true : undefined));
  assert.equal((await viewOf(worker)).reason_code, "healthcheck_failed");
  await eventually("web ready", async () => ((await viewOf(web)).status === "ready" ? true : undefined));
  assert.equal(n.lastError, null, String(n.lastError));
});

test("stopHeartbeats stops node_heartbeats moving; resumeHeartbeats moves it again", async () => {
  const n = await start({ heartbeatMs: 50 });
  const last = async () =>
    (await t.db.pool.query("SELECT last_heartbeat_at FROM node_heartbeats WHERE node_id = $1", [n.nodeId]))
      .rows[0]?.last_heartbeat_at as Date;
  const first = await last();
  await eventually("a later heartbeat", async () => ((await last()) > first ? true : undefined));
  await n.stopHeartbeats();
  const stopped = await last();
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await last()).getTime(), stopped.getTime());
  n.resumeHeartbeats();
  await eventually("heartbeats again", async () => ((await last()) > stopped ? true : undefined));
});

test("errors are surfaced in lastError, not swallowed", async () => {
  const n = await start();
  assert.equal((await t.call("DELETE", `/v1/nodes/${n.nodeId}`, { auth: OP })).status, 204);
  // The revoked credential is refused: the heartbeat (or the stream's refetch) records why.
  await eventually("an error", async () => (n.lastError ? true : undefined));
  assert.match(String(n.lastError?.message), /HTTP 401|HTTP 403/);
});

/** A TCP proxy to the server whose open connections can be cut, to drop the node's plan stream. */
async function cuttableProxy(target: string) {
  const { hostname, port } = new URL(target);
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = tcpConnect(Number(port), hostname);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on("close", () => open.delete(s));
      s.on("error", () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    cut: () => {
      for (const s of open) s.destroy();
    },
    close: () => {
      for (const s of open) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

test("a dropped plan stream is reopened and the node catches up with what it missed", async () => {
  const proxy = await cuttableProxy(t.server.url);
  try {
    const n = await startSimNode(proxy.url, { operatorAuth: OP, heartbeatMs: 100, bootMs: 10 });
    nodes.push(n);
    await eventually("the first plan", async () => (n.plansSeen > 0 ? true : undefined));
    proxy.cut();
    const inst = await allocate(n.nodeId);
    await eventually("ready after reconnecting", async () =>
      (await viewOf(inst)).status === "ready" ? true : undefined,
    );
    assert.ok(n.lastError, "the drop is surfaced");
  } finally {
    await proxy.close();
  }
});
