import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createTestDatabase, type TestDatabase } from "@plfm/testing";
import { newId } from "./ids.ts";
import { LeaderLease, leaseKey } from "./lease.ts";
import { type Child, startChild, waitUntil } from "./test-fixtures/child.ts";

const TABLE = "lease_heartbeats";
let db: TestDatabase;
const children: Child[] = [];
const leases: LeaderLease[] = [];

before(async () => {
  db = await createTestDatabase({ poolSize: 4 });
  await db.pool.query(`CREATE TABLE ${TABLE} (pid integer NOT NULL, at timestamptz NOT NULL)`);
});
after(async () => {
  await Promise.all(children.map((c) => c.kill()));
  await Promise.all(leases.map((l) => l.stop()));
  await db.drop();
});

const isLeaderLine = (c: Child) => c.lines.includes(`LEADER ${c.pid}`);
const untilAborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));

function lease(name: string, extra: Partial<ConstructorParameters<typeof LeaderLease>[0]> = {}): LeaderLease {
  const l = new LeaderLease({ url: db.url, name, retryMs: 50, ...extra });
  leases.push(l);
  return l;
}

/** How many sessions hold the advisory lock of `name` (bigint keys: classid = high word, objid = low). */
async function holders(name: string): Promise<number> {
  const key = BigInt.asUintN(64, leaseKey(name));
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks
      WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND classid = $1::bigint AND objid = $2::bigint
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [(key >> 32n).toString(), (key & 0xffffffffn).toString()],
  );
  return rows[0]?.n ?? 0;
}

describe("leader lease across processes", () => {
  test("one leader at a time; a standby takes over within 10 s of SIGKILL", async (t) => {
    const name = newId("lease");
    const a = startChild("lease-worker.ts", [db.url, name, TABLE]);
    const b = startChild("lease-worker.ts", [db.url, name, TABLE]);
    children.push(a, b);
    await waitUntil("a leader", () => isLeaderLine(a) || isLeaderLine(b), 15_000);
    const [leader, standby] = isLeaderLine(a) ? [a, b] : [b, a];

    // Longer than two standby retries (1 s) and one leader health check (2 s).
    await sleep(2500);
    assert.equal(isLeaderLine(standby), false, "the standby must not lead while the leader lives");
    const during = await db.pool.query<{ pid: number; n: number }>(
      `SELECT pid, count(*)::int AS n FROM ${TABLE} GROUP BY pid`,
    );
    assert.deepEqual(
      during.rows.map((r) => r.pid),
      [leader.pid],
      "only the leader writes heartbeats",
    );
    assert.ok((during.rows[0]?.n ?? 0) >= 10, `leader heartbeats every ~100 ms: ${during.rows[0]?.n}`);

    const killedAt = performance.now();
    await leader.kill();
    await standby.waitFor(() => isLeaderLine(standby), 10_000);
    await waitUntil(
      "the new leader's first heartbeat",
      async () =>
        (await db.pool.query(`SELECT 1 FROM ${TABLE} WHERE pid = $1`, [standby.pid])).rows.length > 0,
      10_000,
    );
    const takeoverMs = performance.now() - killedAt;
    t.diagnostic(`takeover after SIGKILL: ${Math.round(takeoverMs)} ms`);
    assert.ok(takeoverMs < 10_000, `takeover took ${takeoverMs} ms`);

    await sleep(500);
    const spans = await db.pool.query<{ pid: number; first: Date; last: Date; n: number }>(
      `SELECT pid, min(at) AS first, max(at) AS last, count(*)::int AS n FROM ${TABLE} GROUP BY pid`,
    );
    const byPid = new Map(spans.rows.map((r) => [r.pid, r]));
    assert.deepEqual([...byPid.keys()].sort(), [leader.pid, standby.pid].sort());
    const old = byPid.get(leader.pid);
    const next = byPid.get(standby.pid);
    assert.ok(old && next);
    // Periods do not interleave: everything the dead leader wrote precedes the new leader's first row.
    assert.ok(
      old.last < next.first,
      `leader periods overlap: ${old.last.toISOString()} ≥ ${next.first.toISOString()}`,
    );
    assert.ok(next.n >= 3, `new leader keeps writing: ${next.n}`);
    await standby.kill();
  });
});

describe("leader lease in process", () => {
  test("leaseKey is a stable signed 64-bit hash", () => {
    assert.equal(leaseKey("projections"), leaseKey("projections"));
    assert.notEqual(leaseKey("projections"), leaseKey("scheduler"));
    const k = leaseKey("projections");
    assert.equal(BigInt.asIntN(64, k), k);
  });

  test("stop() aborts the work, releases the lock, and another lease acquires promptly", async () => {
    const name = newId("lease");
    const a = lease(name);
    let aSignal: AbortSignal | undefined;
    const aDone = a.run(async (signal) => {
      aSignal = signal;
      await untilAborted(signal);
    });
    await waitUntil("a to lead", () => a.isLeader, 5000);
    assert.equal(await holders(name), 1);

    const b = lease(name);
    let bStarts = 0;
    const bDone = b.run(async (signal) => {
      bStarts++;
      await untilAborted(signal);
    });
    await sleep(400); // eight of b's tries
    assert.equal(b.isLeader, false);
    assert.equal(bStarts, 0);

    const stoppedAt = performance.now();
    await a.stop();
    assert.equal(aSignal?.aborted, true, "stop() aborts the work before it returns");
    assert.equal(a.isLeader, false);
    assert.equal(a.state, "stopped");
    await aDone;
    await waitUntil("b to lead", () => bStarts === 1, 2000);
    assert.ok(performance.now() - stoppedAt < 1000, "b acquires within a few retries");
    assert.equal(b.isLeader, true);

    await b.stop();
    await bDone;
    assert.equal(await holders(name), 0, "no session holds the lock after both stopped");
  });

  test("a terminated session aborts the work at once and the lease is re-acquired on a new session", async () => {
    const name = newId("lease");
    const app = `plfm-lease-${name.slice(-8)}`;
    // A long health-check period: loss must be seen from the connection itself, not the next check.
    const l = lease(name, { checkMs: 60_000, applicationName: app });
    const signals: AbortSignal[] = [];
    void l.run(async (signal) => {
      signals.push(signal);
      await untilAborted(signal);
    });
    await waitUntil("lead", () => signals.length === 1, 5000);
    const terminatedAt = performance.now();
    const { rows } = await db.pool.query<{ ok: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
        WHERE application_name = $1 AND datname = current_database()`,
      [app],
    );
    assert.deepEqual(
      rows.map((r) => r.ok),
      [true],
    );
    await waitUntil("work aborted", () => signals[0]?.aborted === true, 1000, 5);
    assert.ok(performance.now() - terminatedAt < 1000);
    await waitUntil("re-acquired", () => signals.length === 2 && l.isLeader, 5000);
    assert.equal(await holders(name), 1);
    await l.stop();
    assert.equal(signals[1]?.aborted, true);
  });

  test("work that throws releases the lease, so another process may take it", async () => {
    const name = newId("lease");
    const a = lease(name, { restartDelayMs: 1500 });
    let aCalls = 0;
    void a.run(async () => {
      aCalls++;
      throw new Error("boom");
    });
    await waitUntil("a's work to run", () => aCalls === 1, 5000);
    const b = lease(name);
    void b.run((signal) => untilAborted(signal));
    await waitUntil("b to lead while a waits to re-contend", () => b.isLeader, 1400);
    assert.equal(a.isLeader, false);
    await b.stop();
    await waitUntil("a to re-contend and run its work again", () => aCalls >= 2, 5000);
    await a.stop();
  });
});
