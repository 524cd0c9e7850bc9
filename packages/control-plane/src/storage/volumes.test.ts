// Volumes end to end over HTTP: create, read, list, delete, with every rule.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { newId } from "@plfm/kernel";
import { assertProblem, dev, GiB, type Harness, makeOrg, nodeA, ok, startHarness } from "./test-kit.ts";
import { reportVolumeState } from "./volume-commands.ts";

let h: Harness;
let orgA: string;
let orgB: string;
const alice = dev("alice@example.com");
const bob = dev("bob@example.com");
const rita = dev("rita@example.com");
const vols = (org: string) => `/v1/orgs/${org}/volumes`;
const VOL_ID = /^vol_[0-9A-HJKMNP-TV-Z]{26}$/;

before(async () => {
  h = await startHarness(["ops@example.com"]);
  orgA = await makeOrg(h, "alice@example.com", "vol-a", [["rita@example.com", "readonly"]]);
  orgB = await makeOrg(h, "bob@example.com", "vol-b");
});
after(async () => h?.close());

describe("volumes", () => {
  test("create answers the volume in state creating; an immediate read and list show it", async () => {
    const body = { name: "pgdata", size_bytes: 2 * GiB, home_node_id: nodeA };
    const v = ok(await h.call("POST", vols(orgA), { auth: alice, body }), 201);
    assert.match(String(v.volume_id), VOL_ID);
    assert.deepEqual(
      { ...v, volume_id: "", created_at: "", updated_at: "" },
      {
        volume_id: "",
        org_id: orgA,
        name: "pgdata",
        size_bytes: 2 * GiB,
        filesystem: "ext4",
        backup_enabled: true,
        home_node_id: nodeA,
        state: "creating",
        state_reason: null,
        resource_version: 1,
        created_at: "",
        updated_at: "",
      },
    );
    assert.deepEqual(ok(await h.call("GET", `${vols(orgA)}/${v.volume_id}`, { auth: alice }), 200), v);
    const list = ok(await h.call("GET", vols(orgA), { auth: alice }), 200);
    assert.ok((list.items as { volume_id: string }[]).some((x) => x.volume_id === v.volume_id));
    // Every volume.created names its home node (checklist 38).
    const events = await h.events(String(v.volume_id));
    assert.deepEqual(events, [
      {
        event_type: "volume.created",
        payload: {
          volume_id: v.volume_id,
          org_id: orgA,
          name: "pgdata",
          size_bytes: 2 * GiB,
          filesystem: "ext4",
          backup_enabled: true,
          home_node_id: nodeA,
        },
      },
    ]);
  });

  test("a volume needs no name", async () => {
    const v = ok(
      await h.call("POST", vols(orgA), { auth: alice, body: { size_bytes: GiB, home_node_id: nodeA } }),
      201,
    );
    assert.equal(v.name, null);
    // Picking a home node, and no_capacity when none qualifies: volumes-nodes.test.ts.
  });

  test("bad bodies are 400 with the field, and write nothing", async () => {
    const before = await h.eventCount();
    const good = { size_bytes: GiB, home_node_id: nodeA };
    const cases: [unknown, string][] = [
      [{ ...good, size_bytes: GiB - 1 }, "size_bytes"],
      [{ ...good, size_bytes: 1.5 * GiB + 0.5 }, "size_bytes"],
      [{ ...good, size_bytes: "1073741824" }, "size_bytes"],
      [{ home_node_id: nodeA }, "size_bytes"],
      [{ ...good, filesystem: "xfs" }, "filesystem"],
      [{ ...good, backup_enabled: false }, "backup_enabled"],
      [{ ...good, name: "Bad_Name" }, "name"],
      [{ ...good, name: "" }, "name"],
      [{ ...good, name: `v${"x".repeat(160)}` }, "name"],
      [{ ...good, home_node_id: "node_nope" }, "home_node_id"],
      [{ ...good, colour: "red" }, "colour"],
    ];
    for (const [body, field] of cases) {
      assertProblem(await h.call("POST", vols(orgA), { auth: alice, body }), 400, "invalid_argument", field);
    }
    assert.equal(await h.eventCount(), before);
    const long = `v${"x".repeat(159)}`;
    assert.equal(
      (await h.call("POST", vols(orgA), { auth: alice, body: { ...good, name: long } })).status,
      201,
    );
  });

  test("names are unique per org, not across orgs", async () => {
    const body = { name: "shared", size_bytes: GiB, home_node_id: nodeA };
    ok(await h.call("POST", vols(orgA), { auth: alice, body }), 201);
    assertProblem(await h.call("POST", vols(orgA), { auth: alice, body }), 409, "conflict", "name");
    ok(await h.call("POST", vols(orgB), { auth: bob, body }), 201);
  });

  test("an unknown volume is 404 to read and delete; a malformed id is 400", async () => {
    const path = `${vols(orgA)}/${newId("vol")}`;
    assertProblem(await h.call("GET", path, { auth: alice }), 404, "not_found");
    assertProblem(await h.call("DELETE", path, { auth: alice }), 404, "not_found");
    assertProblem(
      await h.call("GET", `${vols(orgA)}/vol_nope`, { auth: alice }),
      400,
      "invalid_argument",
      "volume",
    );
  });

  test("an Idempotency-Key replays the answer and appends nothing; another body is refused", async () => {
    const key = "create-volume-0001";
    const body = { name: "replayed", size_bytes: GiB, home_node_id: nodeA };
    const first = ok(await h.call("POST", vols(orgA), { auth: alice, body, key }), 201);
    const before = await h.eventCount();
    const again = await h.call("POST", vols(orgA), { auth: alice, body, key });
    assert.equal(again.status, 201);
    assert.equal(again.headers.get("idempotency-replayed"), "true");
    assert.deepEqual(again.body, first);
    assert.equal(await h.eventCount(), before);
    assertProblem(
      await h.call("POST", vols(orgA), { auth: alice, body: { ...body, name: "other" }, key }),
      409,
      "idempotency_key_reuse",
    );
    assert.equal(await h.eventCount(), before);
  });

  test("another org's member gets 403 on the org and 404 on its volumes through their own org", async () => {
    const v = ok(
      await h.call("POST", vols(orgA), { auth: alice, body: { size_bytes: GiB, home_node_id: nodeA } }),
      201,
    );
    assertProblem(await h.call("GET", vols(orgA), { auth: bob }), 403, "org_access_denied");
    assertProblem(
      await h.call("GET", `${vols(orgA)}/${v.volume_id}`, { auth: bob }),
      403,
      "org_access_denied",
    );
    assertProblem(
      await h.call("DELETE", `${vols(orgA)}/${v.volume_id}`, { auth: bob }),
      403,
      "org_access_denied",
    );
    assertProblem(await h.call("GET", `${vols(orgB)}/${v.volume_id}`, { auth: bob }), 404, "not_found");
    assertProblem(await h.call("DELETE", `${vols(orgB)}/${v.volume_id}`, { auth: bob }), 404, "not_found");
    const bobs = ok(await h.call("GET", vols(orgB), { auth: bob }), 200).items as { volume_id: string }[];
    assert.ok(!bobs.some((x) => x.volume_id === v.volume_id));
    assertProblem(await h.call("GET", vols(orgA)), 401, "unauthorized");
  });

  test("a readonly member reads but cannot create or delete (403 insufficient_scope)", async () => {
    const v = ok(
      await h.call("POST", vols(orgA), { auth: alice, body: { size_bytes: GiB, home_node_id: nodeA } }),
      201,
    );
    assert.equal((await h.call("GET", `${vols(orgA)}/${v.volume_id}`, { auth: rita })).status, 200);
    assert.equal((await h.call("GET", vols(orgA), { auth: rita })).status, 200);
    const body = { size_bytes: GiB, home_node_id: nodeA };
    assertProblem(await h.call("POST", vols(orgA), { auth: rita, body }), 403, "insufficient_scope");
    assertProblem(
      await h.call("DELETE", `${vols(orgA)}/${v.volume_id}`, { auth: rita }),
      403,
      "insufficient_scope",
    );
  });

  test("delete: 204, state deleting until the home node reports deleted, then 404 and the name is free", async () => {
    const body = { name: "scratch", size_bytes: GiB, home_node_id: nodeA };
    const v = ok(await h.call("POST", vols(orgA), { auth: alice, body }), 201);
    const path = `${vols(orgA)}/${v.volume_id}`;
    const del = await h.call("DELETE", path, { auth: alice });
    assert.equal(del.status, 204, JSON.stringify(del.body));
    const read = ok(await h.call("GET", path, { auth: alice }), 200);
    assert.equal(read.state, "deleting");
    assert.equal(read.resource_version, 2);
    const before = await h.eventCount();
    assert.equal((await h.call("DELETE", path, { auth: alice })).status, 204, "deleting again is a no-op");
    assert.equal(await h.eventCount(), before);
    assertProblem(await h.call("POST", vols(orgA), { auth: alice, body }), 409, "conflict", "name");
    await reportVolumeState(h.nodeCtx(nodeA), nodeA, String(v.volume_id), { state: "deleted" });
    // Reads are eventually consistent: wait for the projection.
    for (let i = 0; i < 100 && (await h.call("GET", path, { auth: alice })).status === 200; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assertProblem(await h.call("GET", path, { auth: alice }), 404, "not_found");
    ok(await h.call("POST", vols(orgA), { auth: alice, body }), 201);
    assert.deepEqual(
      (await h.events(String(v.volume_id))).map((e) => e.event_type),
      ["volume.created", "volume.deleted", "volume.state_changed"],
    );
  });

  test("the org's max_volumes quota refuses a create with 409 quota_exceeded", async () => {
    const org = await makeOrg(h, "alice@example.com", "vol-quota");
    ok(
      await h.call("PUT", `/v1/orgs/${org}/quotas/max_volumes`, {
        auth: dev("ops@example.com"),
        body: { limit_value: 0 },
      }),
      200,
    );
    const r = await h.call("POST", vols(org), {
      auth: alice,
      body: { size_bytes: GiB, home_node_id: nodeA },
    });
    assertProblem(r, 409, "quota_exceeded");
    assert.equal((r.body.quota as { dimension: string }).dimension, "max_volumes");
  });
});
