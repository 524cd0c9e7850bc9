// Acceptance: "A child process appending in a loop is killed with SIGKILL:
// every append it had acknowledged is in the log exactly once, and no
// idempotency record exists without its events."
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createTestDatabase, type TestDatabase } from "@plfm/testing";
import { append } from "./append.ts";
import { crashCommand } from "./test-fixtures/append-commands.ts";
import { type Child, startChild, waitUntil } from "./test-fixtures/child.ts";

const ACKS_BEFORE_KILL = 200;
let db: TestDatabase;
let child: Child | undefined;

before(async () => {
  db = await createTestDatabase({ poolSize: 4 });
});
after(async () => {
  await child?.kill();
  await db.drop();
});

const ackLines = (c: Child) => c.lines.filter((l) => l.startsWith("ACK "));
const numberOf = (key: string) => Number(key.slice("cmd-".length));

test("SIGKILL mid-append: acked appends are in the log exactly once, no record without its events", async (t) => {
  child = startChild("append-loop.ts", [db.url]);
  await child.waitFor(() => ackLines(child as Child).length >= ACKS_BEFORE_KILL, 15_000);
  // Four appends are in flight when the 200th is acknowledged.
  child.proc.kill("SIGKILL");
  await child.closed;
  // A statement the child sent just before dying still runs (and may commit) on the server.
  await waitUntil(
    "the child's sessions to end",
    async () =>
      (
        await db.pool.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name = 'plfm-crash-child'
              AND datname = current_database()`,
        )
      ).rows.length === 0,
    5000,
  );

  const acked = new Map<string, string[]>();
  for (const line of child.lines) {
    const m = /^ACK (cmd-\d+) (\d+(?:,\d+)*)$/.exec(line);
    assert.ok(m?.[1] && m[2], `malformed child output: ${JSON.stringify(line)}`);
    assert.equal(acked.has(m[1]), false, `acked twice: ${m[1]}`);
    acked.set(m[1], m[2].split(","));
  }
  assert.ok(acked.size >= ACKS_BEFORE_KILL);

  const { rows: events } = await db.pool.query<{ id: string; idempotency_key: string | null }>(
    "SELECT event_id::text AS id, idempotency_key FROM events ORDER BY event_id",
  );
  const idsByKey = new Map<string, string[]>();
  for (const e of events) {
    assert.ok(e.idempotency_key, `event ${e.id} has no idempotency key`);
    idsByKey.set(e.idempotency_key, [...(idsByKey.get(e.idempotency_key) ?? []), e.id]);
  }
  // Every acknowledged command: exactly its acknowledged events, once each.
  for (const [key, ids] of acked) assert.deepEqual(idsByKey.get(key), ids, `events of acked ${key}`);
  // Every command in the log (acked or not): all of its events or none.
  for (const [key, ids] of idsByKey) {
    assert.equal(ids.length, crashCommand(numberOf(key)).events.length, `event count of ${key}`);
  }
  t.diagnostic(`${acked.size} acked; ${idsByKey.size - acked.size} committed without an ack`);

  const orphanRecords = await db.pool.query(
    `SELECT r.idempotency_key FROM idempotency_records r
      WHERE NOT EXISTS (SELECT 1 FROM events e
                         WHERE e.idempotency_key = r.idempotency_key AND e.tx_id = r.last_tx_id)`,
  );
  assert.deepEqual(orphanRecords.rows, [], "idempotency records without their events");
  const unrecorded = await db.pool.query(
    `SELECT e.event_id FROM events e
       LEFT JOIN idempotency_records r ON r.idempotency_key = e.idempotency_key AND r.last_tx_id = e.tx_id
      WHERE e.idempotency_key IS NOT NULL AND r.idempotency_key IS NULL`,
  );
  assert.deepEqual(unrecorded.rows, [], "events without their idempotency record (same tx)");
  const splitKeys = await db.pool.query(
    "SELECT idempotency_key FROM events GROUP BY idempotency_key HAVING count(DISTINCT tx_id) > 1",
  );
  assert.deepEqual(splitKeys.rows, [], "a command's events span transactions");
  const records = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM idempotency_records");
  assert.equal(records.rows[0]?.n, idsByKey.size);

  const gaps = await db.pool.query(
    `SELECT aggregate_id, count(*)::int AS n, min(aggregate_seq) AS lo, max(aggregate_seq) AS hi
       FROM events GROUP BY aggregate_type, aggregate_id
     HAVING min(aggregate_seq) <> 1 OR max(aggregate_seq) <> count(*)`,
  );
  assert.deepEqual(gaps.rows, [], "aggregate sequences have gaps");

  // Re-sending acknowledged commands (same key, same body) replays them.
  const keys = [...acked.keys()];
  const resend = [keys[0], keys[Math.floor(keys.length / 2)], keys[keys.length - 1]] as string[];
  for (const key of resend) {
    const n = numberOf(key);
    const r = await append(db.pool, crashCommand(n));
    assert.equal(r.replayed, true, `${key} replays`);
    if (!r.replayed) continue;
    assert.deepEqual(r.response, { key, n });
    const tx = await db.pool.query<{ tx_id: string }>(
      "SELECT DISTINCT tx_id::text FROM events WHERE event_id = ANY($1::bigint[])",
      [acked.get(key)],
    );
    assert.equal(r.position?.txId.toString(), tx.rows[0]?.tx_id, `${key} replays its own position`);
  }
  const after = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events");
  assert.equal(after.rows[0]?.n, events.length, "replays append nothing");
});
