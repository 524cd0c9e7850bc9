// Volume attachments end to end over HTTP: the attach checks of §10.1, and
// the volume delete they block.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { newId } from "@plfm/kernel";
import {
  assertProblem,
  dev,
  GiB,
  type Harness,
  makeEnv,
  makeOrg,
  nodeA,
  nodeB,
  ok,
  startHarness,
} from "./test-kit.ts";

let h: Harness;
let orgA: string;
let orgB: string;
let envA: string; // E of alice's env
let envB: string; // E of bob's env
const alice = dev("alice@example.com");
const bob = dev("bob@example.com");
const rita = dev("rita@example.com");
const VAT_ID = /^vat_[0-9A-HJKMNP-TV-Z]{26}$/;
const vats = (e: string) => `${e}/volume-attachments`;

async function volume(org: string, auth: string, home = nodeA): Promise<string> {
  const v = ok(
    await h.call("POST", `/v1/orgs/${org}/volumes`, { auth, body: { size_bytes: GiB, home_node_id: home } }),
    201,
  );
  return String(v.volume_id);
}

before(async () => {
  h = await startHarness();
  orgA = await makeOrg(h, "alice@example.com", "att-a", [["rita@example.com", "readonly"]]);
  orgB = await makeOrg(h, "bob@example.com", "att-b");
  envA = await makeEnv(h, alice, orgA, "shop");
  envB = await makeEnv(h, bob, orgB, "blog");
});
after(async () => h?.close());

describe("volume attachments", () => {
  test("attach answers the attachment with its path normalised; an immediate list shows it", async () => {
    const vol = await volume(orgA, alice);
    const body = { volume_id: vol, process_type: "db", mount_path: "//var/lib/./pg/" };
    const a = ok(await h.call("POST", vats(envA), { auth: alice, body }), 201);
    assert.match(String(a.attachment_id), VAT_ID);
    assert.equal(a.mount_path, "/var/lib/pg");
    assert.equal(a.read_only, false);
    assert.equal(a.org_id, orgA);
    assert.equal(a.resource_version, 1);
    const items = ok(await h.call("GET", vats(envA), { auth: alice }), 200).items as unknown[];
    assert.deepEqual(
      items.filter((x) => (x as { attachment_id: string }).attachment_id === a.attachment_id),
      [a],
    );
    const [e] = await h.events(String(a.attachment_id));
    assert.equal(e?.event_type, "volume_attachment.created");
    assert.deepEqual(Object.keys(e?.payload ?? {}).sort(), [
      "app_id",
      "attachment_id",
      "env_id",
      "mount_path",
      "org_id",
      "process_type",
      "read_only",
      "volume_id",
    ]);
  });

  test("bad bodies are 400 with the field, and write nothing", async () => {
    const vol = await volume(orgA, alice);
    const before = await h.eventCount();
    const good = { volume_id: vol, process_type: "web", mount_path: "/data" };
    const cases: [unknown, string][] = [
      [{ ...good, mount_path: "data" }, "mount_path"],
      [{ ...good, mount_path: "/run/secrets/x" }, "mount_path"],
      [{ ...good, mount_path: "/run/secrets" }, "mount_path"],
      [{ ...good, mount_path: "/data/../etc" }, "mount_path"],
      [{ ...good, mount_path: "/proc/self" }, "mount_path"],
      [{ ...good, mount_path: "/" }, "mount_path"],
      [{ ...good, mount_path: "" }, "mount_path"],
      [{ ...good, process_type: "Web" }, "process_type"],
      [{ ...good, process_type: "w".repeat(33) }, "process_type"],
      [{ ...good, volume_id: "vol_nope" }, "volume_id"],
      [{ ...good, volume_id: newId("vol") }, "volume_id"],
      [{ ...good, read_only: "no" }, "read_only"],
      [{ process_type: "web", mount_path: "/data" }, "volume_id"],
      [{ ...good, colour: "red" }, "colour"],
    ];
    for (const [body, field] of cases) {
      assertProblem(await h.call("POST", vats(envA), { auth: alice, body }), 400, "invalid_argument", field);
    }
    assert.equal(await h.eventCount(), before);
  });

  test("a volume of another org is not found (400 on volume_id), nor is another org's env", async () => {
    const bobs = await volume(orgB, bob);
    const body = { volume_id: bobs, process_type: "web", mount_path: "/data" };
    assertProblem(
      await h.call("POST", vats(envA), { auth: alice, body }),
      400,
      "invalid_argument",
      "volume_id",
    );
    assertProblem(await h.call("POST", vats(envB), { auth: alice, body }), 403, "org_access_denied");
    assertProblem(await h.call("GET", vats(envB), { auth: alice }), 403, "org_access_denied");
    // Alice's org in the path, bob's app and env: no such env here.
    const foreign = envB.replace(`/orgs/${orgB}/`, `/orgs/${orgA}/`);
    assertProblem(await h.call("GET", vats(foreign), { auth: alice }), 404, "not_found");
    const own = await volume(orgA, alice);
    assertProblem(
      await h.call("POST", vats(foreign), { auth: alice, body: { ...body, volume_id: own } }),
      404,
      "not_found",
    );
  });

  test("one volume, one attachment: a second is 409 volume_in_use; (env, process, path) is unique", async () => {
    const vol = await volume(orgA, alice);
    ok(
      await h.call("POST", vats(envA), {
        auth: alice,
        body: { volume_id: vol, process_type: "q", mount_path: "/q" },
      }),
      201,
    );
    const other = await makeEnv(h, alice, orgA, "shop-two", "staging");
    assertProblem(
      await h.call("POST", vats(other), {
        auth: alice,
        body: { volume_id: vol, process_type: "q", mount_path: "/q" },
      }),
      409,
      "volume_in_use",
    );
    assertProblem(
      await h.call("POST", vats(envA), {
        auth: alice,
        body: { volume_id: vol, process_type: "r", mount_path: "/r" },
      }),
      409,
      "volume_in_use",
    );
    const second = await volume(orgA, alice);
    assertProblem(
      await h.call("POST", vats(envA), {
        auth: alice,
        body: { volume_id: second, process_type: "q", mount_path: "/q/" },
      }),
      409,
      "conflict",
      "mount_path",
    );
    ok(
      await h.call("POST", vats(envA), {
        auth: alice,
        body: { volume_id: second, process_type: "q", mount_path: "/q2" },
      }),
      201,
    );
  });

  test("the volumes of one process type share a home node (409 volume_home_node_mismatch)", async () => {
    const onA = await volume(orgA, alice, nodeA);
    const onB = await volume(orgA, alice, nodeB);
    ok(
      await h.call("POST", vats(envA), {
        auth: alice,
        body: { volume_id: onA, process_type: "m", mount_path: "/a" },
      }),
      201,
    );
    assertProblem(
      await h.call("POST", vats(envA), {
        auth: alice,
        body: { volume_id: onB, process_type: "m", mount_path: "/b" },
      }),
      409,
      "volume_home_node_mismatch",
    );
    ok(
      await h.call("POST", vats(envA), {
        auth: alice,
        body: { volume_id: onB, process_type: "n", mount_path: "/b" },
      }),
      201,
    );
  });

  test("a process scaled above 1 cannot mount a volume (409 conflict)", async () => {
    const e = await makeEnv(h, alice, orgA, "scaled");
    const scale = ok(await h.call("GET", `${e}/scale`, { auth: alice }), 200);
    ok(
      await h.call("PUT", `${e}/scale`, {
        auth: alice,
        body: { processes: [{ process_type: "web", desired: 2 }], expected_version: scale.resource_version },
      }),
      200,
    );
    const vol = await volume(orgA, alice);
    assertProblem(
      await h.call("POST", vats(e), {
        auth: alice,
        body: { volume_id: vol, process_type: "web", mount_path: "/d" },
      }),
      409,
      "conflict",
      "process_type",
    );
  });

  test("a volume is not deleted while attached (409 volume_in_use); after detaching it is", async () => {
    const vol = await volume(orgA, alice);
    const a = ok(
      await h.call("POST", vats(envA), {
        auth: alice,
        body: { volume_id: vol, process_type: "x", mount_path: "/x" },
      }),
      201,
    );
    const volPath = `/v1/orgs/${orgA}/volumes/${vol}`;
    assertProblem(await h.call("DELETE", volPath, { auth: alice }), 409, "volume_in_use");
    assert.equal((await h.call("DELETE", `${vats(envA)}/${a.attachment_id}`, { auth: alice })).status, 204);
    const items = ok(await h.call("GET", vats(envA), { auth: alice }), 200).items as {
      attachment_id: string;
    }[];
    assert.ok(!items.some((x) => x.attachment_id === a.attachment_id));
    assertProblem(
      await h.call("DELETE", `${vats(envA)}/${a.attachment_id}`, { auth: alice }),
      404,
      "not_found",
    );
    assert.equal((await h.call("DELETE", volPath, { auth: alice })).status, 204);
    // A volume being deleted cannot be attached again.
    assertProblem(
      await h.call("POST", vats(envA), {
        auth: alice,
        body: { volume_id: vol, process_type: "x", mount_path: "/x" },
      }),
      409,
      "conflict",
      "volume_id",
    );
  });

  test("an unknown attachment is 404; an attachment is reachable only through its own env", async () => {
    assertProblem(await h.call("DELETE", `${vats(envA)}/${newId("vat")}`, { auth: alice }), 404, "not_found");
    const vol = await volume(orgA, alice);
    const a = ok(
      await h.call("POST", vats(envA), {
        auth: alice,
        body: { volume_id: vol, process_type: "y", mount_path: "/y" },
      }),
      201,
    );
    const other = await makeEnv(h, alice, orgA, "elsewhere");
    assertProblem(
      await h.call("DELETE", `${vats(other)}/${a.attachment_id}`, { auth: alice }),
      404,
      "not_found",
    );
    assertProblem(
      await h.call("DELETE", `${vats(envB)}/${a.attachment_id}`, { auth: bob }),
      404,
      "not_found",
    );
  });

  test("an Idempotency-Key replays the answer and appends nothing; another body is refused", async () => {
    const vol = await volume(orgA, alice);
    const key = "attach-volume-0001";
    const body = { volume_id: vol, process_type: "z", mount_path: "/z" };
    const first = ok(await h.call("POST", vats(envA), { auth: alice, body, key }), 201);
    const before = await h.eventCount();
    const again = await h.call("POST", vats(envA), { auth: alice, body, key });
    assert.equal(again.status, 201);
    assert.equal(again.headers.get("idempotency-replayed"), "true");
    assert.deepEqual(again.body, first);
    assert.equal(await h.eventCount(), before);
    assertProblem(
      await h.call("POST", vats(envA), { auth: alice, body: { ...body, mount_path: "/z2" }, key }),
      409,
      "idempotency_key_reuse",
    );
  });

  test("a readonly member lists but cannot attach or detach (403 insufficient_scope)", async () => {
    const vol = await volume(orgA, alice);
    const body = { volume_id: vol, process_type: "ro", mount_path: "/ro" };
    assert.equal((await h.call("GET", vats(envA), { auth: rita })).status, 200);
    assertProblem(await h.call("POST", vats(envA), { auth: rita, body }), 403, "insufficient_scope");
    const a = ok(await h.call("POST", vats(envA), { auth: alice, body }), 201);
    assertProblem(
      await h.call("DELETE", `${vats(envA)}/${a.attachment_id}`, { auth: rita }),
      403,
      "insufficient_scope",
    );
  });
});
