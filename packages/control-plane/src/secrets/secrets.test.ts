import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Keyring } from "./keyring.ts";
import { readSecretMaterial } from "./store.ts";
import {
  assertProblem,
  createEnv,
  type EnvPath,
  type SecretsTestServer,
  startSecretsServer,
  user,
} from "./test-kit.ts";

const alice = user("alice@example.com");
const rita = user("rita@example.com"); // readonly member of alice's org
const bob = user("bob@example.com"); // another org's owner
const keyring = new Keyring({ key: randomBytes(32), id: "test-k1" });
const FILE_HEADER = "# PLFM_SECRETS_V1\n";
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

let t: SecretsTestServer;
let e: EnvPath;
let n = 0;
/** A fresh env of alice's org, so tests do not share bundles. */
async function freshEnv(): Promise<string> {
  const env = await t.call("POST", `/v1/orgs/${e.orgId}/apps/${e.appId}/envs`, {
    auth: alice,
    body: { name: `env-${++n}` },
  });
  assert.equal(env.status, 201, JSON.stringify(env.body));
  return `/v1/orgs/${e.orgId}/apps/${e.appId}/envs/${env.body.env_id}/secrets`;
}
const canonicalOf = async (versionId: unknown) =>
  (await readSecretMaterial(t.db.pool, keyring, String(versionId)))?.data;

before(async () => {
  t = await startSecretsServer({ keyring });
  e = await createEnv(t, alice, "acme");
  const m = await t.call("POST", `/v1/orgs/${e.orgId}/members`, {
    auth: alice,
    body: { email: "rita@example.com", role: "readonly" },
  });
  assert.equal(m.status, 201, JSON.stringify(m.body));
  await createEnv(t, bob, "other");
});
after(async () => {
  await t?.close();
});

describe("secrets: writes and metadata", () => {
  test("GET before the first write is 404; PUT answers the metadata, and GET shows it at once", async () => {
    const path = await freshEnv();
    assertProblem(await t.call("GET", path, { auth: alice }), 404, "not_found");
    const put = await t.call("PUT", path, { auth: alice, body: { values: { B: "2", A: "1" } } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.match(String(put.body.bundle_id), /^sb_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.match(String(put.body.current_version_id), /^sv_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.deepEqual(put.body.keys, ["A", "B"]);
    assert.equal(put.body.resource_version, 1);
    assert.equal(put.body.current_data_hash, sha256(`${FILE_HEADER}A=1\nB=2\n`));
    const got = await t.call("GET", path, { auth: alice });
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, put.body);
  });

  test("the file form and the values form of one content give one data_hash", async () => {
    const file = `\n${FILE_HEADER}# a comment\r\nB=2\n\nA=base64:MQ==\n`;
    const a = await t.call("PUT", await freshEnv(), {
      auth: alice,
      body: { format: "platform_env_v1", data: file },
    });
    const b = await t.call("PUT", await freshEnv(), { auth: alice, body: { values: { A: "1", B: "2" } } });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body.current_data_hash, b.body.current_data_hash);
    assert.equal(await canonicalOf(a.body.current_version_id), `${FILE_HEADER}A=1\nB=2\n`);
  });

  test("a value with a newline canonicalises to base64:, and data_hash hashes the canonical bytes (51)", async () => {
    const r = await t.call("PUT", await freshEnv(), {
      auth: alice,
      // JSON strings are read as file values (base64: decoded), and may also hold line breaks.
      body: { values: { CERT: "a\nb", SAME: "base64:YQpi", NUL: "x\u0000" } },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const canonical = `${FILE_HEADER}CERT=base64:${b64("a\nb")}\nNUL=base64:${b64("x\0")}\nSAME=base64:YQpi\n`;
    assert.equal(await canonicalOf(r.body.current_version_id), canonical);
    assert.equal(r.body.current_data_hash, sha256(canonical));
  });

  test("two identical PUTs make two versions with one data_hash (52)", async () => {
    const path = await freshEnv();
    const one = await t.call("PUT", path, { auth: alice, body: { values: { K: "v" } } });
    const two = await t.call("PUT", path, { auth: alice, body: { values: { K: "v" } } });
    assert.equal(two.status, 200, JSON.stringify(two.body));
    assert.notEqual(one.body.current_version_id, two.body.current_version_id);
    assert.equal(one.body.current_data_hash, two.body.current_data_hash);
    assert.equal(two.body.resource_version, 2);
    const { rows } = await t.db.pool.query(
      "SELECT DISTINCT data_hash FROM secret_versions WHERE bundle_id = $1",
      [two.body.bundle_id],
    );
    assert.deepEqual(rows, [{ data_hash: one.body.current_data_hash }]);
    const events = await t.db.pool.query(
      "SELECT event_type FROM events WHERE aggregate_id = $1 ORDER BY aggregate_seq",
      [two.body.bundle_id],
    );
    assert.deepEqual(
      events.rows.map((r) => r.event_type),
      ["secret_bundle.created", "secret_bundle.version_set", "secret_bundle.version_set"],
    );
  });

  test("PATCH merges set and unset into the current version; PATCH on an env without secrets starts from empty", async () => {
    const path = await freshEnv();
    const first = await t.call("PATCH", path, { auth: alice, body: { set: { A: "1", B: "2" } } });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const r = await t.call("PATCH", path, {
      auth: alice,
      body: { set: { C: "x\ny", B: "two" }, unset: ["A", "NOT_THERE"], expected_version: 1 },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.keys, ["B", "C"]);
    assert.equal(r.body.resource_version, 2);
    assert.equal(await canonicalOf(r.body.current_version_id), `${FILE_HEADER}B=two\nC=base64:eAp5\n`);
    assertProblem(
      await t.call("PATCH", path, { auth: alice, body: { set: { A: "1" }, unset: ["A"] } }),
      400,
      "invalid_argument",
      "unset.A",
    );
  });

  test("a missing header or a duplicate key is invalid_secrets_format naming the line or key (50)", async () => {
    const path = await freshEnv();
    const noHeader = await t.call("PUT", path, { auth: alice, body: { data: "A=1\n" } });
    assertProblem(noHeader, 400, "invalid_secrets_format", "line 1");
    const dup = await t.call("PUT", path, { auth: alice, body: { data: `${FILE_HEADER}A=1\nA=2\n` } });
    assertProblem(dup, 400, "invalid_secrets_format", "A");
    assertProblem(
      await t.call("PUT", path, { auth: alice, body: { values: { "bad-key": "v" } } }),
      400,
      "invalid_secrets_format",
      "bad-key",
    );
    assertProblem(
      await t.call("PATCH", path, { auth: alice, body: { unset: ["lower"] } }),
      400,
      "invalid_secrets_format",
      "lower",
    );
    assertProblem(await t.call("GET", path, { auth: alice }), 404, "not_found");
  });

  test("a too large value is secrets_too_large naming its key", async () => {
    const r = await t.call("PUT", await freshEnv(), {
      auth: alice,
      body: { values: { SMALL: "ok", HUGE_VALUE: "x".repeat(8193) } },
    });
    assertProblem(r, 400, "secrets_too_large", "HUGE_VALUE");
  });

  test("the body must carry exactly one of data and values, and nothing unknown", async () => {
    const path = await freshEnv();
    assertProblem(await t.call("PUT", path, { auth: alice, body: {} }), 400, "invalid_argument", "data");
    assertProblem(
      await t.call("PUT", path, { auth: alice, body: { data: FILE_HEADER, values: {} } }),
      400,
      "invalid_argument",
      "data",
    );
    assertProblem(
      await t.call("PUT", path, { auth: alice, body: { values: {}, extra: 1 } }),
      400,
      "invalid_argument",
      "extra",
    );
    assertProblem(
      await t.call("PUT", path, { auth: alice, body: { format: "dotenv", data: FILE_HEADER } }),
      400,
      "invalid_argument",
      "format",
    );
  });

  test("a stale expected_version is 409 version_conflict and writes nothing", async () => {
    const path = await freshEnv();
    assertProblem(
      await t.call("PUT", path, { auth: alice, body: { values: {}, expected_version: 1 } }),
      409,
      "version_conflict",
    );
    const ok = await t.call("PUT", path, { auth: alice, body: { values: {}, expected_version: 0 } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.keys, []);
    assertProblem(
      await t.call("PATCH", path, { auth: alice, body: { set: { A: "1" }, expected_version: 0 } }),
      409,
      "version_conflict",
    );
    assert.equal((await t.call("GET", path, { auth: alice })).body.resource_version, 1);
  });

  test("an Idempotency-Key replays the first answer and appends nothing; another body is idempotency_key_reuse", async () => {
    const path = await freshEnv();
    const body = { values: { A: "1" } };
    const first = await t.call("PUT", path, { auth: alice, body, key: "secrets-put-0001" });
    const count = async () => (await t.db.pool.query("SELECT count(*)::int AS n FROM events")).rows[0].n;
    const before = await count();
    const again = await t.call("PUT", path, { auth: alice, body, key: "secrets-put-0001" });
    assert.equal(again.status, 200);
    assert.equal(again.headers.get("idempotency-replayed"), "true");
    assert.deepEqual(again.body, first.body);
    assert.equal(await count(), before);
    assertProblem(
      await t.call("PUT", path, { auth: alice, body: { values: { A: "2" } }, key: "secrets-put-0001" }),
      409,
      "idempotency_key_reuse",
    );
  });

  test("an unknown env is 404; another org's member gets 403; no token is 401", async () => {
    const unknown = e.secrets.replace(e.envId, "env_01HZZZZZZZZZZZZZZZZZZZZZZZ");
    assertProblem(await t.call("GET", unknown, { auth: alice }), 404, "not_found");
    assertProblem(
      await t.call("PUT", unknown, { auth: alice, body: { values: { A: "1" } } }),
      404,
      "not_found",
    );
    assertProblem(await t.call("GET", e.secrets, { auth: bob }), 403, "org_access_denied");
    assertProblem(
      await t.call("PUT", e.secrets, { auth: bob, body: { values: { A: "1" } } }),
      403,
      "org_access_denied",
    );
    assertProblem(
      await t.call("PATCH", e.secrets, { auth: bob, body: { unset: ["A"] } }),
      403,
      "org_access_denied",
    );
    assertProblem(await t.call("GET", e.secrets), 401, "unauthorized");
  });

  test("a readonly member reads the metadata but cannot write (insufficient_scope)", async () => {
    const path = await freshEnv();
    await t.call("PUT", path, { auth: alice, body: { values: { A: "1" } } });
    const read = await t.call("GET", path, { auth: rita });
    assert.equal(read.status, 200, JSON.stringify(read.body));
    assert.deepEqual(read.body.keys, ["A"]);
    assertProblem(
      await t.call("PUT", path, { auth: rita, body: { values: { A: "2" } } }),
      403,
      "insufficient_scope",
    );
    assertProblem(
      await t.call("PATCH", path, { auth: rita, body: { unset: ["A"] } }),
      403,
      "insufficient_scope",
    );
  });

  test("every write is audited: a row and an audit log line, with ids and hashes only", async () => {
    const path = await freshEnv();
    const r = await t.call("PUT", path, { auth: alice, body: { values: { AUDITED: "v" } } });
    const { rows } = await t.db.pool.query(
      "SELECT action, target_id, details FROM audit_log WHERE target_id = $1",
      [r.body.bundle_id],
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0].action, "secret_bundle.version_set");
    assert.equal(rows[0].details.version_id, r.body.current_version_id);
    assert.equal(rows[0].details.operation, "put");
    const lines = t
      .logText()
      .split("\n")
      .filter((l) => l.includes('"audit":true') && l.includes(String(r.body.current_version_id)));
    assert.equal(lines.length, 1);
  });

  test("concurrent first writes of one env make one bundle and two versions", async () => {
    const path = await freshEnv();
    const [a, b] = await Promise.all([
      t.call("PUT", path, { auth: alice, body: { values: { A: "1" } } }),
      t.call("PATCH", path, { auth: alice, body: { set: { B: "2" } } }),
    ]);
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(b.status, 200, JSON.stringify(b.body));
    assert.equal(a.body.bundle_id, b.body.bundle_id);
    const got = await t.call("GET", path, { auth: alice });
    assert.equal(got.body.resource_version, 2);
  });
});
