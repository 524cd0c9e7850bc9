import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createTestDatabase, type TestDatabase } from "@plfm/testing";
import { append } from "./append.ts";
import { type AggregateDef, handleCommand, loadAggregate } from "./command.ts";
import type { Queryable } from "./db/pool.ts";
import { isKernelError, KernelError } from "./errors.ts";
import type { CommandMeta } from "./events.ts";
import { requestHash } from "./idempotency.ts";
import { newId } from "./ids.ts";
import { readAggregate } from "./read.ts";

// A counter that refuses to go above a limit: enough state for decide to
// depend on, and a typed error when the command is refused.
interface Counter {
  value: number;
}
const counter: AggregateDef<Counter> = {
  aggregateType: "counter",
  initial: () => ({ value: 0 }),
  evolve: (s, e) => (e.eventType === "counter.incremented" ? { value: s.value + Number(e.payload.by) } : s),
};
const LIMIT = 1000;
const increment = (id: string, by: number) => (state: Counter) => {
  if (state.value + by > LIMIT) throw new KernelError("conflict", "the counter would pass its limit");
  return {
    events: [
      { aggregateType: "counter", aggregateId: id, eventType: "counter.incremented", payload: { by } },
    ],
    response: { counter_id: id, value: state.value + by },
  };
};
const meta: CommandMeta = { actorType: "user", actorId: "usr_test", requestId: "req_test" };

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase({ poolSize: 12 });
});
after(() => db.drop());

describe("handleCommand", () => {
  test("folds the aggregate, decides, appends and answers", async () => {
    const id = newId("ctr");
    const a = await handleCommand(db.pool, {
      aggregate: counter,
      aggregateId: id,
      meta,
      decide: increment(id, 2),
    });
    const b = await handleCommand(db.pool, {
      aggregate: counter,
      aggregateId: id,
      meta,
      decide: increment(id, 3),
    });
    assert.deepEqual(a.response, { counter_id: id, value: 2 });
    assert.deepEqual(b.response, { counter_id: id, value: 5 });
    assert.deepEqual(await loadAggregate(db.pool, counter, id), { state: { value: 5 }, version: 2 });
  });

  test("concurrent commands retry from fresh state: none is lost, the sequence has no gaps", async () => {
    const id = newId("ctr");
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        handleCommand(db.pool, {
          aggregate: counter,
          aggregateId: id,
          meta,
          decide: increment(id, 1),
          maxAttempts: 20,
        }),
      ),
    );
    const values = results.map((r) => (r.response as { value: number }).value).sort((x, y) => x - y);
    assert.deepEqual(values, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "each saw the state its own append followed");
    assert.deepEqual(
      (await readAggregate(db.pool, "counter", id)).map((e) => e.aggregateSeq),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
  });

  test("a refusal from decide passes through and writes nothing", async () => {
    const id = newId("ctr");
    await assert.rejects(
      handleCommand(db.pool, { aggregate: counter, aggregateId: id, meta, decide: increment(id, LIMIT + 1) }),
      (e) => isKernelError(e, "conflict"),
    );
    assert.equal((await readAggregate(db.pool, "counter", id)).length, 0);
  });

  test("a replay answers the first response even though the state moved on", async () => {
    const id = newId("ctr");
    const idempotency = {
      scope: "org_1",
      actorId: "usr_test",
      endpoint: "counters.increment",
      key: newId("key"),
      requestHash: requestHash("counters.increment", { by: 999 }),
    };
    const first = await handleCommand(db.pool, {
      aggregate: counter,
      aggregateId: id,
      meta,
      decide: increment(id, 999),
      idempotency,
    });
    // Deciding again would now be refused (999 + 999 > LIMIT): the replay must not decide.
    const again = await handleCommand(db.pool, {
      aggregate: counter,
      aggregateId: id,
      meta,
      decide: increment(id, 999),
      idempotency,
    });
    assert.equal(first.replayed, false);
    assert.equal(again.replayed, true);
    assert.deepEqual(again.response, first.response);
    assert.equal(again.position?.txId, first.position?.txId);
    assert.equal((await readAggregate(db.pool, "counter", id)).length, 1);
  });

  test("gives up with version_conflict after maxAttempts when a writer keeps getting in first", async () => {
    const id = newId("ctr");
    // The real pool, but a competing command lands between every load and append.
    let competitors = 0;
    const racing: Queryable = {
      query: (async (config: unknown, values?: unknown) => {
        const name = (config as { name?: string }).name ?? "";
        if (name.startsWith("kernel_append")) {
          competitors++;
          await append(db.pool, { meta, events: increment(id, 1)({ value: 0 }).events });
        }
        return db.pool.query(config as string, values as unknown[]);
      }) as Queryable["query"],
    };
    let decisions = 0;
    await assert.rejects(
      handleCommand(racing, {
        aggregate: counter,
        aggregateId: id,
        meta,
        maxAttempts: 3,
        decide: (state) => {
          decisions++;
          return increment(id, 1)(state);
        },
      }),
      (e) => isKernelError(e, "version_conflict"),
    );
    assert.equal(decisions, 3);
    assert.equal(competitors, 3);
    // Only the competitors' events are in the log, gapless.
    assert.deepEqual(
      (await readAggregate(db.pool, "counter", id)).map((e) => e.aggregateSeq),
      [1, 2, 3],
    );
  });
});
