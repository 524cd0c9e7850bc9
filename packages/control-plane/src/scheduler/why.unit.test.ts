// The pure parts of env status and `why`: current release, release sync,
// routes' backends, blockers and the explanation sentence.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { currentRelease, type InstanceTally, processesFromScale, routeStatuses } from "../apps/status.ts";
import { assembleWhy, blockersOf } from "./why.ts";

const tally = (release_id: string, o: Partial<InstanceTally> = {}): InstanceTally => ({
  process_type: "web",
  release_id,
  ready: 0,
  booting: 0,
  draining: 0,
  failed: 0,
  live: 0,
  ...o,
});

describe("env status (pure)", () => {
  test("current release: most ready; a tie goes to the desired release, then the smallest id", () => {
    assert.equal(currentRelease([tally("rel_b", { ready: 2 }), tally("rel_a", { ready: 1 })], null), "rel_b");
    assert.equal(currentRelease([tally("rel_b", { ready: 1 }), tally("rel_a", { ready: 1 })], null), "rel_a");
    assert.equal(
      currentRelease([tally("rel_a", { ready: 1 }), tally("rel_c", { ready: 1 })], "rel_c"),
      "rel_c",
    );
    assert.equal(currentRelease([tally("rel_a", { booting: 3, live: 3 })], "rel_a"), null);
  });

  test("release_synced needs the desired release ready and no other release live", () => {
    const desired = [{ process_type: "web", release_id: "rel_new", min: 1 }];
    const [rolling] = processesFromScale([], desired, [
      tally("rel_new", { ready: 1, live: 1 }),
      tally("rel_old", { draining: 1, live: 1 }),
    ]);
    assert.equal(rolling?.release_synced, false);
    assert.equal(rolling?.current_release_id, "rel_new");
    const [done] = processesFromScale([], desired, [
      tally("rel_new", { ready: 1, live: 1 }),
      tally("rel_old", { failed: 1 }),
    ]);
    assert.equal(done?.release_synced, true);
    // Scaled to zero with nothing left running is in sync, whatever the desired release.
    const [zero] = processesFromScale([{ process_type: "web", desired: 0 }], desired, []);
    assert.equal(zero?.release_synced, true);
    assert.deepEqual(
      processesFromScale([], [], [tally("rel_x", { draining: 1, live: 1 })]).map((p) => [
        p.process_type,
        p.desired,
      ]),
      [["web", 0]],
      "a process with instances left is listed even when nothing wants it",
    );
  });

  test("blocks and routes", () => {
    const [p] = processesFromScale(
      [{ process_type: "web", desired: 1 }],
      [],
      [],
      [{ process_type: "web", reason: "secrets_missing", detail: null }],
    );
    assert.equal(p?.blocked_reason, "secrets_missing");
    assert.equal("blocked_detail" in (p ?? {}), false);
    const routes = routeStatuses(
      [
        {
          route_id: "rt_1",
          hostname: "a.example",
          listen_port: 443,
          backend_port: 80,
          backend_process_type: "api",
        },
      ],
      [],
    );
    assert.deepEqual(routes[0]?.status, "no_backends");
  });
});

describe("why (pure)", () => {
  const sched = { process_type: "web", blocked: true, reason: "no_capacity_memory", detail: "d", since: "S" };
  const status = {
    process_type: "web",
    last_reconcile_at: "T",
    last_error: null,
    blocked_reason: "no_capacity_memory",
    blocked_detail: "dd",
    blocked_facts: [{ node_id: "node_1", reason: "memory", detail: "m" }, "junk"],
  };

  test("the log's block is authoritative; facts only when the last pass saw the same reason", () => {
    assert.deepEqual(blockersOf(sched, status), [
      {
        reason: "no_capacity_memory",
        detail: "d",
        since: "S",
        facts: [{ node_id: "node_1", reason: "memory", detail: "m" }],
      },
    ]);
    assert.deepEqual(blockersOf(sched, { ...status, blocked_reason: "no_matching_arch" })[0]?.facts, []);
    assert.deepEqual(blockersOf({ ...sched, blocked: false }, { ...status, blocked_reason: null }), []);
    // Seen by the last pass, not yet in the view: reported with since = that pass.
    assert.equal(blockersOf(undefined, status)[0]?.since, "T");
  });

  test("the explanation names the node that shows the reason", () => {
    const [web] = processesFromScale(
      [{ process_type: "web", desired: 3 }],
      [],
      [tally("r", { ready: 1, live: 1 })],
    );
    const why = assembleWhy({
      envId: "env_1",
      processes: web ? [web] : [],
      scheduling: [sched],
      statuses: [
        {
          ...status,
          blocked_facts: [
            { node_id: "node_0", reason: "arch_mismatch", detail: "arm64" },
            ...status.blocked_facts,
          ],
        },
      ],
      events: new Map(),
    });
    assert.deepEqual(why.explanation, ["web: 1 of 3 ready; blocked no_capacity_memory: node_1: m"]);
  });
});
