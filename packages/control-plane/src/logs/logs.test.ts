// End to end over HTTP: node batches in, the tenant logs API out (spec
// platform.md §4.3, §4.4, §4.5, §7.7).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { comparePositions, decodeCursor } from "@plfm/kernel";
import { hashToken, newToken, userIdFor } from "../auth/tokens.ts";
import { assertProblem } from "../http/test-server.ts";
import { MAX_LINE_BYTES } from "./entries.ts";
import { deleteExpiredLogs } from "./retention.ts";
import { alice, bob, entry, type LogsWorld, rita, startLogsWorld } from "./test-kit.ts";

let w: LogsWorld;
before(async () => {
  w = await startLogsWorld();
});
after(async () => w?.t.close());

type Item = {
  ts: string;
  instance_id: string;
  process_type: string;
  stream: string;
  line: string;
  truncated: boolean;
};
const list = async (query = "", auth = alice) => {
  const r = await w.t.call("GET", `${w.envUrl}/logs${query}`, { auth });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { items: r.body.items as Item[], next: r.body.next_cursor as string };
};
const lines = (items: Item[]) => items.map((i) => i.line);
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

/** Polls `after` until `want` lines came (commits become readable once older transactions end). */
async function pollUntil(cursor: string, want: number, query = ""): Promise<{ items: Item[]; next: string }> {
  const deadline = Date.now() + 5000;
  const items: Item[] = [];
  let next = cursor;
  for (;;) {
    const page = await list(`?after=${next}${query}`);
    items.push(...page.items);
    next = page.next;
    if (items.length >= want || Date.now() > deadline) return { items, next };
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("ingest", () => {
  test("a batch is accepted, stored with the instance's ids (not the agent's), and read back exactly", async () => {
    const inst = await w.allocate("web");
    const events = await w.t.eventCount();
    const ts = "2025-01-02T03:04:05.123456789+01:00";
    const r = await w.post(w.node1, [
      { ...entry(inst, "hello"), ts: minutesAgo(2) },
      { ...entry(inst, "oops", minutesAgo(1), "stderr"), truncated: true },
      entry(inst, "exact ns", ts),
    ]);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { accepted: 3 });
    assert.equal(await w.t.eventCount(), events, "logs are not events");

    const { rows } = await w.t.db.pool.query(
      "SELECT org_id, app_id, env_id, process_type, node_id, ts_ns::text FROM workload_logs WHERE instance_id = $1 ORDER BY id",
      [inst],
    );
    assert.equal(rows.length, 3);
    for (const row of rows) {
      assert.deepEqual(
        [row.org_id, row.app_id, row.env_id, row.process_type, row.node_id],
        [w.orgA, w.appId, w.envId, "web", w.node1.nodeId],
      );
    }
    assert.equal(rows[2].ts_ns, String(BigInt(Date.parse("2025-01-02T02:04:05Z")) * 1_000_000n + 123456789n));

    const page = await list(`?instance_id=${inst}`);
    assert.deepEqual(lines(page.items), ["hello", "oops"]);
    assert.deepEqual(page.items[1], {
      ts: page.items[1]?.ts,
      instance_id: inst,
      process_type: "web",
      stream: "stderr",
      line: "oops",
      truncated: true,
    });
    const old = await list(`?instance_id=${inst}&since=2025-01-02T01:30:00Z&until=2025-01-02T02:30:00Z`);
    assert.deepEqual(
      old.items.map((i) => [i.line, i.ts]),
      [["exact ns", "2025-01-02T02:04:05.123456789Z"]],
    );
  });

  test("another node's instance, an unknown one, or another node's path: 403 and nothing written", async () => {
    const mine = await w.allocate("web", w.node1);
    const before = await w.rowCount();
    assertProblem(await w.post(w.node2, [entry(mine, "forged")]), 403, "forbidden");
    assertProblem(await w.post(w.node1, [entry("inst_01ARZ3NDEKTSV4RRFFQ69G5FAV", "who")]), 403, "forbidden");
    const mixed = await w.post(w.node1, [
      entry(mine, "ok"),
      entry(await w.allocate("web", w.node2), "not mine"),
    ]);
    assertProblem(mixed, 403, "forbidden");
    assertProblem(await w.post(w.node1, [entry(mine, "x")], w.node2.nodeId), 403, "forbidden");
    const anon = await w.t.call("POST", `/v1/nodes/${w.node1.nodeId}/logs`, { body: { entries: [] } });
    assertProblem(anon, 401, "unauthorized");
    assert.equal(await w.rowCount(), before);
  });

  test("limits: 1001 entries, more than 1 MiB of lines, or a bad ts are refused whole", async () => {
    const inst = await w.allocate("web");
    const before = await w.rowCount();
    const many = Array.from({ length: 1001 }, (_, i) => entry(inst, `l${i}`));
    assertProblem(await w.post(w.node1, many), 400, "invalid_argument", "entries");
    const big = Array.from({ length: 70 }, () => entry(inst, "x".repeat(16_000)));
    assertProblem(await w.post(w.node1, big), 400, "invalid_argument", "entries");
    const badTs = [entry(inst, "a"), entry(inst, "b", "2026-02-30T00:00:00Z")];
    assertProblem(await w.post(w.node1, badTs), 400, "invalid_argument", "entries.1.ts");
    assert.equal(await w.rowCount(), before);
    const exactly = await w.post(w.node1, many.slice(0, 1000));
    assert.deepEqual(exactly.body, { accepted: 1000 });
  });

  test("lines over 16 KiB are cut to 16 KiB ending in …, on a character boundary", async () => {
    const inst = await w.allocate("cut");
    const long = "a".repeat(20_000);
    const exact = "b".repeat(MAX_LINE_BYTES);
    const wide = "é".repeat(9000); // 18 000 bytes, 2 per character
    const r = await w.post(w.node1, [
      entry(inst, long),
      entry(inst, exact),
      entry(inst, wide),
      entry(inst, "nul\u0000"),
    ]);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const items = (await list(`?instance_id=${inst}`)).items;
    assert.equal(items.length, 4);
    const [a, b, c, d] = items as [Item, Item, Item, Item];
    assert.equal(a.line, `${"a".repeat(MAX_LINE_BYTES - 3)}…`);
    assert.equal(Buffer.byteLength(a.line), MAX_LINE_BYTES);
    assert.equal(a.truncated, true);
    assert.deepEqual([b.line, b.truncated], [exact, false]);
    assert.ok(c.line.endsWith("é…") && c.truncated);
    assert.ok(Buffer.byteLength(c.line) <= MAX_LINE_BYTES && !c.line.includes("\uFFFD"));
    assert.equal(d.line, "nul\uFFFD");
  });
});

describe("reading", () => {
  test("filters: process_type, instance_id, since/until, tail_lines; spans over 1 h refused", async () => {
    const web = await w.allocate("reader-web");
    const worker = await w.allocate("reader-worker", w.node2);
    const r1 = await w.post(
      w.node1,
      Array.from({ length: 10 }, (_, i) => entry(web, `w${i}`, minutesAgo(30 - i))),
    );
    assert.equal(r1.status, 200, JSON.stringify(r1.body));
    await w.post(w.node2, [entry(worker, "k1", minutesAgo(25)), entry(worker, "old", minutesAgo(90))]);

    assert.deepEqual(
      lines((await list("?process_type=reader-worker")).items),
      ["k1"],
      "default: the last hour",
    );
    assert.deepEqual(lines((await list(`?instance_id=${web}&tail_lines=3`)).items), ["w7", "w8", "w9"]);
    const window = `&since=${minutesAgo(28.5)}&until=${minutesAgo(24.5)}`;
    assert.deepEqual(lines((await list(`?instance_id=${web}${window}`)).items), ["w2", "w3", "w4", "w5"]);
    const hourAgo = `?process_type=reader-worker&since=${minutesAgo(100)}&until=${minutesAgo(40)}`;
    assert.deepEqual(lines((await list(hourAgo)).items), ["old"]);

    const tooLong = await w.t.call("GET", `${w.envUrl}/logs?since=${minutesAgo(61)}`, { auth: alice });
    assertProblem(tooLong, 400, "invalid_argument", "since");
    const backwards = `?since=${minutesAgo(1)}&until=${minutesAgo(2)}`;
    assertProblem(
      await w.t.call("GET", `${w.envUrl}/logs${backwards}`, { auth: alice }),
      400,
      "invalid_argument",
    );
    for (const q of ["?tail_lines=0", "?tail_lines=10001", "?since=yesterday", "?limit=0"]) {
      assertProblem(await w.t.call("GET", `${w.envUrl}/logs${q}`, { auth: alice }), 400, "invalid_argument");
    }
  });

  test("an env's lines stay in that env", async () => {
    const other = await w.t.call("POST", `/v1/orgs/${w.orgA}/apps/${w.appId}/envs`, {
      auth: alice,
      body: { name: "staging" },
    });
    const env2 = other.body.env_id as string;
    const inst = await w.allocate("iso", w.node1, env2);
    await w.post(w.node1, [entry(inst, "staging only")]);
    assert.deepEqual(lines((await list("?process_type=iso")).items), []);
    const r = await w.t.call("GET", `/v1/orgs/${w.orgA}/apps/${w.appId}/envs/${env2}/logs`, { auth: alice });
    assert.deepEqual(lines(r.body.items as Item[]), ["staging only"]);
  });

  test("tenant isolation: no token 401, org B 403, readonly member reads, a token without logs:read 403", async () => {
    const url = `${w.envUrl}/logs`;
    assertProblem(await w.t.call("GET", url), 401, "unauthorized");
    assertProblem(await w.t.call("GET", url, { auth: bob }), 403, "org_access_denied");
    assertProblem(await w.t.call("GET", `${url}/stream`, { auth: bob }), 403, "org_access_denied");
    assert.equal((await w.t.call("GET", url, { auth: rita })).status, 200);
    const bobsEnv = url.replace(w.orgA, w.orgB);
    assertProblem(await w.t.call("GET", bobsEnv, { auth: bob }), 404, "not_found");

    const token = newToken("access");
    await w.t.db.pool.query(
      `INSERT INTO access_tokens (token_hash, subject_type, subject_id, email, scopes, expires_at)
       VALUES ($1, 'user', $2, $3, $4, now() + interval '15 minutes')`,
      [hashToken(token), userIdFor("alice@example.com"), "alice@example.com", ["orgs:read", "envs:read"]],
    );
    assertProblem(await w.t.call("GET", url, { auth: `Bearer ${token}` }), 403, "insufficient_scope");
    assertProblem(
      await w.t.call("GET", `${url}/stream`, { auth: `Bearer ${token}` }),
      403,
      "insufficient_scope",
    );
  });

  test("polling twin: after a cursor, exactly the newer lines; next_cursor advances on empty pages", async () => {
    const inst = await w.allocate("poll");
    const start = await list("?process_type=poll");
    assert.deepEqual(start.items, []);
    await w.post(w.node1, [entry(inst, "p1"), entry(inst, "p2")]);
    const first = await pollUntil(start.next, 2, "&process_type=poll");
    assert.deepEqual(lines(first.items), ["p1", "p2"]);
    await w.post(w.node1, [entry(inst, "p3")]);
    const second = await pollUntil(first.next, 1, "&process_type=poll");
    assert.deepEqual(lines(second.items), ["p3"], "nothing seen before comes again");

    // A filter matching nothing still moves the cursor past the rows it scanned.
    await w.post(w.node1, [entry(inst, "p4")]);
    await pollUntil(second.next, 1, "&process_type=poll");
    const sparse = await list(`?after=${second.next}&process_type=nomatch`);
    assert.deepEqual(sparse.items, []);
    assert.ok(comparePositions(decodeCursor(sparse.next), decodeCursor(second.next)) > 0);

    const limited = await list(`?after=${start.next}&process_type=poll&limit=2`);
    assert.deepEqual(lines(limited.items), ["p1", "p2"]);
    assert.deepEqual(lines((await list(`?after=${limited.next}&process_type=poll`)).items), ["p3", "p4"]);

    const bad = await w.t.call("GET", `${w.envUrl}/logs?after=nonsense`, { auth: alice });
    assertProblem(bad, 400, "invalid_cursor");
  });
});

test("retention deletes lines older than 7 days, and only those", async () => {
  const inst = await w.allocate("retention");
  const eightDays = new Date(Date.now() - 8 * 86_400_000).toISOString();
  const sixDays = new Date(Date.now() - 6 * 86_400_000).toISOString();
  await w.post(w.node1, [entry(inst, "expired", eightDays), entry(inst, "kept", sixDays)]);
  const deleted = await deleteExpiredLogs(w.t.db.pool, new Date());
  assert.ok(deleted >= 1);
  const { rows } = await w.t.db.pool.query("SELECT line FROM workload_logs WHERE instance_id = $1", [inst]);
  assert.deepEqual(
    rows.map((r) => r.line),
    ["kept"],
  );
});
