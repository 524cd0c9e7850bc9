import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createTestDatabase, type TestDatabase } from "@plfm/testing";
import fc from "fast-check";
import { append } from "../append.ts";
import type { CommandMeta, NewEvent, StoredEvent } from "../events.ts";
import { START } from "../position.ts";
import { type EventFilter, readBatch } from "../read.ts";
import { matchesFilter } from "./match-filter.ts";

const meta: CommandMeta = { actorType: "user", actorId: "usr_test", requestId: "req_match" };
const AGGS = ["thing", "widget", "gadget"];
const TYPES = ["thing.touched", "widget.made", "gadget.lost", "thing.moved"];
const ORGS = ["org_a", "org_b"];
const APPS = ["app_a", "app_b"];
const ENVS = ["env_a", "env_b"];

let db: TestDatabase;
let all: StoredEvent[] = [];
before(async () => {
  db = await createTestDatabase({ poolSize: 4 });
  // Every combination, including null org/app/env, which SQL never matches.
  const events: NewEvent[] = [];
  let n = 0;
  for (const agg of AGGS)
    for (const type of TYPES)
      for (const org of [...ORGS, null])
        for (const app of [...APPS, null])
          for (const env of [...ENVS, null]) {
            n++;
            events.push({
              aggregateType: agg,
              aggregateId: `x${n}`,
              eventType: type,
              orgId: org,
              appId: app,
              envId: env,
              payload: {},
            });
          }
  await append(db.pool, { meta, events });
  // Another transaction open in the cluster can hold the horizon back a moment.
  for (let tries = 0; all.length < events.length && tries < 500; tries++) {
    if (tries > 0) await new Promise((r) => setTimeout(r, 10));
    all = (await readBatch(db.pool, START, 10_000)).events;
  }
  assert.equal(all.length, events.length);
});
after(() => db.drop());

const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const filterArb: fc.Arbitrary<EventFilter> = fc
  .record({
    aggregateTypes: opt(fc.subarray([...AGGS, "nope"])),
    eventTypes: opt(fc.subarray([...TYPES, "no.pe"])),
    orgId: opt(fc.constantFrom(...ORGS, "org_z")),
    appId: opt(fc.constantFrom(...APPS)),
    envId: opt(fc.constantFrom(...ENVS)),
  })
  .map((f) => Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)) as EventFilter);

test("the in-memory filter selects exactly what the SQL filter selects", async () => {
  await fc.assert(
    fc.asyncProperty(filterArb, async (filter) => {
      const sql = (await readBatch(db.pool, START, 10_000, filter)).events.map((e) => e.eventId);
      const mem = all.filter((e) => matchesFilter(filter, e)).map((e) => e.eventId);
      assert.deepEqual(mem, sql, JSON.stringify(filter));
    }),
    { numRuns: 150 },
  );
});
