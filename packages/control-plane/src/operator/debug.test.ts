// Operator tooling over HTTP (spec §4.4 "_debug" rows): checkpoints and lag, rebuilds, history, stuck states.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  assertProblem,
  dev,
  eventually,
  type Harness,
  makeOrg,
  ok,
  startHarness,
} from "../storage/test-kit.ts";

let h: Harness;
let orgA: string;
const alice = dev("alice@example.com");
const ops = dev("ops@example.com");

before(async () => {
  h = await startHarness(["ops@example.com"]);
  orgA = await makeOrg(h, "alice@example.com", "dbg-a");
});
after(async () => h?.close());

type Item = Record<string, unknown>;
const items = (body: Record<string, unknown>) => body.items as Item[];

describe("operator tooling", () => {
  test("every endpoint needs a token and nodes:admin", async () => {
    const calls: [string, string][] = [
      ["GET", "/v1/_debug/projections"],
      ["POST", "/v1/_debug/projections/orgs/reset"],
      ["GET", `/v1/_debug/aggregates/org/${orgA}`],
      ["GET", "/v1/_debug/stuck"],
      ["POST", "/v1/_debug/deploys/dep_01J00000000000000000000000/fail"],
      ["POST", "/v1/_debug/instances/inst_01J00000000000000000000000/stop"],
    ];
    const before = await h.eventCount();
    for (const [method, path] of calls) {
      assertProblem(await h.call(method, path), 401, "unauthorized");
      assertProblem(await h.call(method, path, { auth: alice }), 403, "insufficient_scope");
    }
    assert.equal(await h.eventCount(), before);
  });

  test("projections: each checkpoint with its position and lag, registered ones marked", async () => {
    const list = items(ok(await h.call("GET", "/v1/_debug/projections", { auth: ops }), 200));
    const orgs = list.find((p) => p.name === "orgs");
    assert.ok(orgs, JSON.stringify(list));
    assert.equal(orgs.registered, true);
    assert.equal(typeof orgs.position, "string");
    assert.equal(typeof orgs.lag_events, "number");
    assert.ok(Number.isFinite(Date.parse(String(orgs.updated_at))));
  });

  test("aggregate history: every event of one aggregate in order; unknown is 404", async () => {
    ok(
      await h.call("PATCH", `/v1/orgs/${orgA}`, {
        auth: alice,
        body: { name: "dbg-a2", expected_version: 1 },
      }),
      200,
    );
    const hist = ok(await h.call("GET", `/v1/_debug/aggregates/org/${orgA}`, { auth: ops }), 200);
    const evs = items(hist);
    assert.deepEqual(
      evs.map((e) => e.aggregate_seq),
      evs.map((_, i) => i + 1),
    );
    assert.equal(evs[0]?.event_type, "org.created");
    assert.ok(evs.length >= 2);
    assert.ok(evs.every((e) => !("tx_id" in e) && typeof e.cursor === "string"));
    assertProblem(
      await h.call("GET", "/v1/_debug/aggregates/org/org_01ARZ3NDEKTSV4RRFFQ69G5FAV", { auth: ops }),
      404,
      "not_found",
    );
  });

  test("reset rebuilds a view from the log without touching it; unknown names are 404", async () => {
    const events = await h.eventCount();
    assertProblem(
      await h.call("POST", "/v1/_debug/projections/no_such/reset", { auth: ops }),
      404,
      "not_found",
    );
    const r = ok(await h.call("POST", "/v1/_debug/projections/orgs/reset", { auth: ops }), 202);
    assert.equal(r.name, "orgs");
    // The runner replays the log into the truncated view: the org comes back, renamed as it was.
    await eventually(h, `/v1/orgs/${orgA}`, alice, (b) => b.name === "dbg-a2" && b.resource_version === 2);
    assert.equal(await h.eventCount(), events, "a rebuild appends nothing and edits nothing");
  });

  test("stuck: a lagging projection and a silent node are reported with a fix command", async () => {
    const clean = items(ok(await h.call("GET", "/v1/_debug/stuck", { auth: ops }), 200));
    assert.deepEqual(
      clean.filter((s) => s.kind === "projection_lagging"),
      [],
    );
    // A checkpoint at the beginning, untouched for two minutes, with events waiting.
    await h.db.pool.query(
      `INSERT INTO projection_checkpoints (projection_name, last_tx_id, last_event_id, updated_at)
       VALUES ('zz_stalled', '0', 0, now() - interval '2 minutes')`,
    );
    // Heartbeats are not events (spec §2.2): the fleet writes them straight to node_heartbeats.
    await h.db.pool.query(
      `INSERT INTO node_heartbeats (node_id, last_heartbeat_at, report) VALUES
         ('node_01JSILENTAAAAAAAAAAAAAAAAA', now() - interval '5 minutes', '{}'),
         ('node_01JALIVEAAAAAAAAAAAAAAAAAA', now(), '{}')`,
    );
    const stuck = items(ok(await h.call("GET", "/v1/_debug/stuck", { auth: ops }), 200));
    const lag = stuck.filter((s) => s.kind === "projection_lagging");
    assert.deepEqual(
      lag.map((s) => s.ids),
      [["zz_stalled"]],
    );
    assert.match(String(lag[0]?.fix_command), /zz_stalled/);
    const silent = stuck.filter((s) => s.kind === "node_silent");
    assert.deepEqual(
      silent.map((s) => s.ids),
      [["node_01JSILENTAAAAAAAAAAAAAAAAA"]],
    );
    assert.ok(Date.now() - Date.parse(String(silent[0]?.since)) > 4 * 60_000);
  });
});
