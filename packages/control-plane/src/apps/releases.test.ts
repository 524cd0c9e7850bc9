import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { validateManifest } from "@plfm/contracts";
import { DIGEST_A, DIGEST_B, manifest, releaseBody } from "./release-test-kit.ts";
import { addMember, assertProblem, caller, dev, eventCount, type Harness, startHarness } from "./test-kit.ts";

let h: Harness;
let call: ReturnType<typeof caller>;
const alice = dev("alice@example.com");
const bob = dev("bob@example.com");
const rita = dev("rita@example.com");
let orgA = "";
let appId = "";
let relUrl = "";

before(async () => {
  h = await startHarness();
  call = caller(h);
  orgA = String((await call("POST", "/v1/orgs", { auth: alice, body: { name: "org-a" } })).body.org_id);
  appId = String(
    (await call("POST", `/v1/orgs/${orgA}/apps`, { auth: alice, body: { name: "shop" } })).body.app_id,
  );
  relUrl = `/v1/orgs/${orgA}/apps/${appId}/releases`;
  await addMember(h, alice, orgA, "rita@example.com", "readonly");
});
after(async () => {
  await h?.close();
});

const create = (body: unknown, auth = alice, key?: string) =>
  call("POST", relUrl, { auth, body, ...(key ? { key } : {}) });

describe("releases", () => {
  test("create embeds the normalised manifest and its hash, and reads back", async () => {
    const text = manifest();
    const expected = validateManifest(text);
    assert.ok(expected.ok);
    const r = await create(releaseBody({ manifest_hash: expected.hash }));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.match(String(r.body.release_id), /^rel_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(r.body.org_id, orgA);
    assert.equal(r.body.app_id, appId);
    assert.deepEqual(r.body.manifest, JSON.parse(JSON.stringify(expected.manifest)));
    assert.equal(r.body.manifest_hash, expected.hash);
    assert.equal(r.body.manifest_size_bytes, Buffer.byteLength(text));
    assert.equal(r.body.manifest_schema_version, 1);
    assert.deepEqual(r.body.resolved_digests, [{ os: "linux", arch: "amd64", digest: DIGEST_B }]);
    assert.deepEqual(r.body.command, ["/bin/server", "--port", "8080"]);
    // Defaults applied: worker's scaling, web's derived port name.
    const procs = (r.body.manifest as { processes: Record<string, Record<string, unknown>> }).processes;
    assert.deepEqual(procs.worker?.scaling, { min: 2, max: 4 });
    assert.equal((procs.web?.ports as { name: string }[] | undefined)?.[0]?.name, "p8080");
    const got = await call("GET", `${relUrl}/${r.body.release_id}`, { auth: rita });
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, r.body);
    const list = await call("GET", relUrl, { auth: rita });
    assert.equal(list.status, 200);
    assert.ok((list.body.items as { release_id: string }[]).some((x) => x.release_id === r.body.release_id));
    const { rows } = await h.db.pool.query(
      "SELECT payload FROM events WHERE aggregate_type = 'release' AND aggregate_id = $1",
      [r.body.release_id],
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0].payload.manifest_hash, expected.hash);
  });

  test("comments and key order do not change the hash", async () => {
    const a = await create(releaseBody());
    const b = await create(
      releaseBody({ manifest: `# a comment\n${manifest('restart = { policy = "always" }')}` }),
    );
    assert.equal(a.status, 201);
    assert.equal(b.status, 201, JSON.stringify(b.body));
    assert.equal(a.body.manifest_hash, b.body.manifest_hash);
  });

  test("malformed digests → 400 invalid_image_digest with the field path", async () => {
    const before = await eventCount(h);
    assertProblem(
      await create(releaseBody({ index_or_manifest_digest: "sha256:ABC" })),
      400,
      "invalid_image_digest",
      "index_or_manifest_digest",
    );
    assertProblem(
      await create(
        releaseBody({
          resolved_digests: [{ os: "linux", arch: "arm64", digest: `sha256:${"g".repeat(64)}` }],
        }),
      ),
      400,
      "invalid_image_digest",
      "resolved_digests.0.digest",
    );
    assert.equal(await eventCount(h), before);
  });

  test("invalid manifest → 400 invalid_manifest with the validator's paths and codes", async () => {
    const text = manifest().replace('resources = { memory = "256Mi" }', "resources = { cpu = 1.0 }");
    const r = await create(releaseBody({ manifest: text }));
    assertProblem(r, 400, "invalid_manifest", "processes.web.resources.memory");
    const detail = (r.body.details as { field: string; code: string }[]).find(
      (d) => d.field === "processes.web.resources.memory",
    );
    assert.equal(detail?.code, "E_REQUIRED");
    assertProblem(
      await create(releaseBody({ manifest: `${manifest()}\nbogus = 1\n` })),
      400,
      "invalid_manifest",
    );
  });

  test("a manifest_hash other than the server's → 400 invalid_manifest_hash", async () => {
    assertProblem(
      await create(releaseBody({ manifest_hash: `sha256:${"0".repeat(64)}` })),
      400,
      "invalid_manifest_hash",
      "manifest_hash",
    );
  });

  test("schema: empty command, unknown arch, extra fields → 400 invalid_argument", async () => {
    assertProblem(await create(releaseBody({ command: [] })), 400, "invalid_argument");
    assertProblem(
      await create(releaseBody({ resolved_digests: [{ os: "linux", arch: "x86", digest: DIGEST_A }] })),
      400,
      "invalid_argument",
    );
    assertProblem(await create(releaseBody({ status: "x" })), 400, "invalid_argument");
  });

  test("immutable: no PATCH or DELETE route", async () => {
    const r = await create(releaseBody());
    const url = `${relUrl}/${r.body.release_id}`;
    const patch = await call("PATCH", url, { auth: alice, body: { command: ["x"] } });
    assert.ok(patch.status === 404 || patch.status === 405, String(patch.status));
    const del = await call("DELETE", url, { auth: alice });
    assert.ok(del.status === 404 || del.status === 405, String(del.status));
    assert.deepEqual((await call("GET", url, { auth: alice })).body, r.body);
  });

  test("idempotent replay answers the same and appends nothing; another body → idempotency_key_reuse", async () => {
    const first = await create(releaseBody(), alice, "release-key-0001");
    assert.equal(first.status, 201);
    const n = await eventCount(h);
    const again = await create(releaseBody(), alice, "release-key-0001");
    assert.equal(again.status, 201);
    assert.equal(again.headers.get("idempotency-replayed"), "true");
    assert.deepEqual(again.body, first.body);
    assert.equal(await eventCount(h), n);
    assertProblem(
      await create(releaseBody({ command: ["other"] }), alice, "release-key-0001"),
      409,
      "idempotency_key_reuse",
    );
  });

  test("not found, cross-org, and readonly", async () => {
    assertProblem(
      await call("GET", `${relUrl}/rel_00000000000000000000000000`, { auth: alice }),
      404,
      "not_found",
    );
    const orgB = String((await call("POST", "/v1/orgs", { auth: bob, body: { name: "org-b" } })).body.org_id);
    assertProblem(await create(releaseBody(), bob), 403, "org_access_denied");
    assertProblem(await call("GET", relUrl, { auth: bob }), 403, "org_access_denied");
    // Bob's own org with alice's app id: the app is not there.
    assertProblem(
      await call("POST", `/v1/orgs/${orgB}/apps/${appId}/releases`, { auth: bob, body: releaseBody() }),
      404,
      "not_found",
    );
    assertProblem(await create(releaseBody(), rita), 403, "insufficient_scope");
    assertProblem(
      await call("POST", `/v1/orgs/${orgA}/apps/app_00000000000000000000000000/releases`, {
        auth: alice,
        body: releaseBody(),
      }),
      404,
      "not_found",
    );
  });
});
