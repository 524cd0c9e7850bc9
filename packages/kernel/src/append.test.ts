import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createTestDatabase, type TestDatabase } from "@plfm/testing";
import { append } from "./append.ts";
import { isKernelError } from "./errors.ts";
import type { CommandMeta, NewEvent } from "./events.ts";
import { requestHash } from "./idempotency.ts";
import { newId } from "./ids.ts";
import { readAggregate } from "./read.ts";

const meta: CommandMeta = { actorType: "user", actorId: "usr_test", requestId: "req_test" };
const ev = (id: string, n = 0): NewEvent => ({
  aggregateType: "thing",
  aggregateId: id,
  eventType: "thing.touched",
  payload: { thing_id: id, n },
});

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase({ poolSize: 12 });
});
after(() => db.drop());

describe("append", () => {
  test("assigns gapless sequence numbers from 1 and returns the position", async () => {
    const id = newId("thing");
    const r = await append(db.pool, {
      meta,
      events: [ev(id, 1), ev(id, 2)],
      expected: [{ aggregateType: "thing", aggregateId: id, seq: 0 }],
    });
    assert.equal(r.replayed, false);
    if (r.replayed) return;
    assert.deepEqual(
      r.events.map((e) => e.aggregateSeq),
      [1, 2],
    );
    assert.deepEqual(r.position, { txId: r.events[1]?.txId, eventId: r.events[1]?.eventId });
    const stored = await readAggregate(db.pool, "thing", id);
    assert.deepEqual(
      stored.map((e) => e.payload.n),
      [1, 2],
    );
    assert.equal(stored[0]?.actorId, "usr_test");
  });

  test("a stale expectation fails with version_conflict and writes nothing", async () => {
    const id = newId("thing");
    await append(db.pool, { meta, events: [ev(id)] });
    await assert.rejects(
      append(db.pool, {
        meta,
        events: [ev(id)],
        expected: [{ aggregateType: "thing", aggregateId: id, seq: 0 }],
      }),
      (e) => isKernelError(e, "version_conflict"),
    );
    // An expectation ahead of the log must not leave a gap either.
    await assert.rejects(
      append(db.pool, {
        meta,
        events: [ev(id)],
        expected: [{ aggregateType: "thing", aggregateId: id, seq: 5 }],
      }),
      (e) => isKernelError(e, "version_conflict"),
    );
    assert.equal((await readAggregate(db.pool, "thing", id)).length, 1);
  });

  test("concurrent appends: exactly one wins each sequence number, no gaps", async () => {
    const id = newId("thing");
    let wins = 0;
    let conflicts = 0;
    for (let round = 0; round < 10; round++) {
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) =>
          append(db.pool, {
            meta,
            events: [ev(id, i)],
            expected: [{ aggregateType: "thing", aggregateId: id, seq: round }],
          }),
        ),
      );
      const ok = results.filter((r) => r.status === "fulfilled").length;
      assert.equal(ok, 1, `round ${round}: exactly one append wins`);
      for (const r of results) {
        if (r.status === "rejected") {
          assert.ok(isKernelError(r.reason, "version_conflict"), String(r.reason));
          conflicts++;
        }
      }
      wins += ok;
    }
    assert.equal(wins, 10);
    assert.equal(conflicts, 70);
    const seqs = (await readAggregate(db.pool, "thing", id)).map((e) => e.aggregateSeq);
    assert.deepEqual(
      seqs,
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
  });

  test("appends without an expectation race safely: gapless, conflicts surface", async () => {
    const id = newId("thing");
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => append(db.pool, { meta, events: [ev(id, i)] })),
    );
    const ok = results.filter((r) => r.status === "fulfilled").length;
    for (const r of results)
      if (r.status === "rejected") assert.ok(isKernelError(r.reason, "version_conflict"));
    const seqs = (await readAggregate(db.pool, "thing", id)).map((e) => e.aggregateSeq);
    assert.deepEqual(
      seqs,
      Array.from({ length: ok }, (_, i) => i + 1),
    );
  });

  test("idempotent replay returns the stored response and appends nothing", async () => {
    const id = newId("thing");
    const body = { name: "a", tags: ["x"] };
    const idem = { scope: "org_1", actorId: "usr_test", endpoint: "things.touch", key: newId("key") };
    const first = await append(db.pool, {
      meta,
      events: [ev(id)],
      idempotency: { ...idem, requestHash: requestHash("things.touch", body), response: { thing_id: id } },
    });
    assert.equal(first.replayed, false);
    // Same body with keys in another order hashes the same.
    const again = await append(db.pool, {
      meta,
      events: [ev(id)],
      idempotency: {
        ...idem,
        requestHash: requestHash("things.touch", { tags: ["x"], name: "a" }),
        response: {},
      },
    });
    assert.equal(again.replayed, true);
    if (!again.replayed || first.replayed) return;
    assert.deepEqual(again.response, { thing_id: id });
    assert.equal(again.position?.txId, first.position.txId);
    assert.equal((await readAggregate(db.pool, "thing", id)).length, 1);
    await assert.rejects(
      append(db.pool, {
        meta,
        events: [ev(id)],
        idempotency: { ...idem, requestHash: requestHash("things.touch", { name: "b" }), response: {} },
      }),
      (e) => isKernelError(e, "idempotency_key_reuse"),
    );
    assert.equal((await readAggregate(db.pool, "thing", id)).length, 1);
  });

  test("the record is scoped by the idempotency actor, not the event's actor", async () => {
    const id = newId("thing");
    const idem = { scope: "org_1", actorId: "sp_deployer", endpoint: "things.touch", key: newId("key") };
    const input = { meta, events: [ev(id)], idempotency: { ...idem, requestHash: "h1", response: { id } } };
    assert.equal((await append(db.pool, input)).replayed, false);
    assert.equal((await append(db.pool, input)).replayed, true);
    // The same key from another actor is another request.
    const other = { ...input, idempotency: { ...input.idempotency, actorId: "sp_other" } };
    assert.equal((await append(db.pool, other)).replayed, false);
    assert.equal((await readAggregate(db.pool, "thing", id)).length, 2);
  });

  test("concurrent duplicates of one key: one appends, the others replay", async () => {
    const id = newId("thing");
    const idem = { scope: "org_1", actorId: "usr_test", endpoint: "things.touch", key: newId("key") };
    const hash = requestHash("things.touch", { same: true });
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        append(db.pool, {
          meta,
          events: [ev(id)],
          idempotency: { ...idem, requestHash: hash, response: { ok: 1 } },
        }),
      ),
    );
    assert.equal(results.filter((r) => !r.replayed).length, 1);
    assert.equal((await readAggregate(db.pool, "thing", id)).length, 1);
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n FROM idempotency_records WHERE idempotency_key = $1",
      [idem.key],
    );
    assert.equal(rows[0].n, 1);
  });

  test("a version conflict writes no idempotency record", async () => {
    const id = newId("thing");
    await append(db.pool, { meta, events: [ev(id)] });
    const key = newId("key");
    await assert.rejects(
      append(db.pool, {
        meta,
        events: [ev(id)],
        expected: [{ aggregateType: "thing", aggregateId: id, seq: 0 }],
        idempotency: { scope: "org_1", actorId: "u", endpoint: "e", key, requestHash: "h", response: {} },
      }),
      (e) => isKernelError(e, "version_conflict"),
    );
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n FROM idempotency_records WHERE idempotency_key = $1",
      [key],
    );
    assert.equal(rows[0].n, 0);
  });
});

describe("append across several aggregates", () => {
  const other = (id: string, n = 0): NewEvent => ({
    aggregateType: "other",
    aggregateId: id,
    eventType: "other.touched",
    payload: { other_id: id, n },
  });

  test("one command, two aggregates: each gets its own gapless sequence, in input order", async () => {
    const a = newId("thing");
    const b = newId("other");
    await append(db.pool, { meta, events: [ev(a, 0)] });
    const r = await append(db.pool, {
      meta,
      events: [ev(a, 1), other(b, 1), ev(a, 2), other(b, 2)],
      expected: [{ aggregateType: "thing", aggregateId: a, seq: 1 }],
    });
    assert.equal(r.replayed, false);
    if (r.replayed) return;
    assert.deepEqual(
      r.events.map((e) => [e.aggregateType, e.aggregateSeq, e.payload.n]),
      [
        ["thing", 2, 1],
        ["other", 1, 1],
        ["thing", 3, 2],
        ["other", 2, 2],
      ],
    );
    const ids = r.events.map((e) => e.eventId);
    assert.deepEqual(
      [...ids].sort((x, y) => (x < y ? -1 : 1)),
      ids,
      "event ids follow input order",
    );
    assert.ok(
      r.events.every((e) => e.txId === r.position.txId),
      "one transaction",
    );
  });

  test("a failed expectation on one aggregate writes nothing for any", async () => {
    const a = newId("thing");
    const b = newId("other");
    await append(db.pool, { meta, events: [ev(a)] });
    const key = newId("key");
    await assert.rejects(
      append(db.pool, {
        meta,
        events: [other(b), ev(a)],
        expected: [{ aggregateType: "thing", aggregateId: a, seq: 0 }],
        idempotency: { scope: "org_1", actorId: "u", endpoint: "e", key, requestHash: "h", response: {} },
      }),
      (e) => isKernelError(e, "version_conflict"),
    );
    assert.equal((await readAggregate(db.pool, "other", b)).length, 0);
    assert.equal((await readAggregate(db.pool, "thing", a)).length, 1);
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n FROM idempotency_records WHERE idempotency_key = $1",
      [key],
    );
    assert.equal(rows[0].n, 0);
  });

  test("idempotent replay works for multi-aggregate commands too", async () => {
    const a = newId("thing");
    const b = newId("other");
    const idem = { scope: "org_1", actorId: "u", endpoint: "pair.create", key: newId("key") };
    const input = {
      meta,
      events: [ev(a), other(b)],
      idempotency: { ...idem, requestHash: requestHash("pair.create", { a, b }), response: { a, b } },
    };
    const first = await append(db.pool, input);
    const again = await append(db.pool, input);
    assert.equal(first.replayed, false);
    assert.equal(again.replayed, true);
    if (again.replayed) assert.deepEqual(again.response, { a, b });
    assert.equal((await readAggregate(db.pool, "other", b)).length, 1);
  });
});

describe("the event table is append-only", () => {
  test("UPDATE, DELETE and TRUNCATE fail", async () => {
    const id = newId("thing");
    await append(db.pool, { meta, events: [ev(id)] });
    await assert.rejects(
      db.pool.query("UPDATE events SET payload = '{}' WHERE aggregate_id = $1", [id]),
      /append-only/,
    );
    await assert.rejects(db.pool.query("DELETE FROM events WHERE aggregate_id = $1", [id]), /append-only/);
    await assert.rejects(db.pool.query("TRUNCATE events CASCADE"), /append-only/);
    assert.equal((await readAggregate(db.pool, "thing", id)).length, 1);
  });
});
