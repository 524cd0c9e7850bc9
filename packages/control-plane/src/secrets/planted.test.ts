// Issue 3's secrets acceptance: a planted secret value never appears in the
// event table (nor any other table, except sealed in secret_material), in the
// logs captured during the test, or in any response; and the sealed material
// decrypts to the canonical file.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { canonicaliseSecretsFile } from "@plfm/contracts";
import { decryptSecrets } from "./crypto.ts";
import { Keyring } from "./keyring.ts";
import { loadVersion, readSecretMaterial } from "./store.ts";
import {
  assertProblem,
  createEnv,
  type EnvPath,
  type SecretsTestServer,
  startSecretsServer,
  user,
} from "./test-kit.ts";

const alice = user("alice@example.com");
const rita = user("rita@example.com");
const keyring = new Keyring({ key: randomBytes(32) });
// 36 characters: a multiple of 3, so its base64 is a prefix of the base64 of
// any value that starts with it, and one search covers every base64: form.
const PLANT = `PlantedSecret-${randomBytes(11).toString("hex")}`;
assert.equal(PLANT.length % 3, 0);
const FORMS = [
  PLANT,
  Buffer.from(PLANT).toString("base64"),
  Buffer.from(PLANT).toString("hex"), // how a bytea column prints it
  PLANT.slice(0, 24), // a truncated copy would still be a leak
];
const FILE = `# PLFM_SECRETS_V1\nAPI_TOKEN=${PLANT}\nMULTI=base64:${Buffer.from(`${PLANT}\n${PLANT}`).toString("base64")}\n`;

let t: SecretsTestServer;
let e: EnvPath;

function assertAbsent(where: string, text: string): void {
  for (const form of FORMS) {
    assert.ok(!text.includes(form), `the planted value (as ${JSON.stringify(form)}) appears in ${where}`);
  }
}

before(async () => {
  t = await startSecretsServer({ keyring });
  e = await createEnv(t, alice, "plant");
  await t.call("POST", `/v1/orgs/${e.orgId}/members`, {
    auth: alice,
    body: { email: "rita@example.com", role: "readonly" },
  });
});
after(async () => {
  await t?.close();
});

describe("a planted secret value", () => {
  let versionId = "";

  test("is accepted in every write form", async () => {
    const put = await t.call("PUT", e.secrets, {
      auth: alice,
      body: { values: { DATABASE_PASSWORD: PLANT } },
      key: "plant-put-values",
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const replay = await t.call("PUT", e.secrets, {
      auth: alice,
      body: { values: { DATABASE_PASSWORD: PLANT } },
      key: "plant-put-values",
    });
    assert.equal(replay.headers.get("idempotency-replayed"), "true");
    const file = await t.call("PUT", e.secrets, {
      auth: alice,
      body: { format: "platform_env_v1", data: FILE },
    });
    assert.equal(file.status, 200, JSON.stringify(file.body));
    const patch = await t.call("PATCH", e.secrets, {
      auth: alice,
      body: { set: { EXTRA: `${PLANT}\nsecond line` }, unset: ["NOPE"] },
    });
    assert.equal(patch.status, 200, JSON.stringify(patch.body));
    assert.deepEqual(patch.body.keys, ["API_TOKEN", "EXTRA", "MULTI"]);
    versionId = String(patch.body.current_version_id);
    assert.equal((await t.call("GET", e.secrets, { auth: alice })).status, 200);
  });

  test("is rejected without being echoed, whatever is wrong with the request", async () => {
    const rejected: [unknown, number, string][] = [
      [{ values: { "bad-key": PLANT } }, 400, "invalid_secrets_format"],
      [{ data: `# PLFM_SECRETS_V1\n${PLANT}\n` }, 400, "invalid_secrets_format"],
      [{ data: `# PLFM_SECRETS_V1\nlower=${PLANT}\n` }, 400, "invalid_secrets_format"],
      [{ data: `${PLANT}\n# PLFM_SECRETS_V1\n` }, 400, "invalid_secrets_format"],
      [{ data: `# PLFM_SECRETS_V1\nA=${PLANT}\r\nB=${PLANT}\rC\n` }, 400, "invalid_secrets_format"],
      [{ values: { A: `base64:${PLANT}` } }, 400, "invalid_secrets_format"],
      [{ values: { BIG: PLANT.repeat(300) } }, 400, "secrets_too_large"],
      [{ values: { A: PLANT }, extra: PLANT }, 400, "invalid_argument"],
      [{ values: { A: PLANT }, data: PLANT }, 400, "invalid_argument"],
      [{ values: { A: [PLANT] } }, 400, "invalid_argument"],
      [{ values: { A: PLANT }, expected_version: 99 }, 409, "version_conflict"],
    ];
    for (const [body, status, code] of rejected) {
      assertProblem(await t.call("PUT", e.secrets, { auth: alice, body }), status, code);
    }
    assertProblem(
      await t.call("PATCH", e.secrets, { auth: alice, body: { set: { A: PLANT }, unset: ["A"] } }),
      400,
      "invalid_argument",
    );
    assertProblem(
      await t.call("PUT", e.secrets, { auth: rita, body: { values: { A: PLANT } } }),
      403,
      "insufficient_scope",
    );
    assertProblem(
      await t.call("PUT", e.secrets, {
        auth: alice,
        body: { values: { DATABASE_PASSWORD: `${PLANT}x` } },
        key: "plant-put-values",
      }),
      409,
      "idempotency_key_reuse",
    );
  });

  test("appears in no event, no table (but sealed secret_material), no log line and no response", async () => {
    const events = await t.db.pool.query<{ row: string }>("SELECT e::text AS row FROM events e");
    assert.ok(events.rows.length > 0);
    assertAbsent("the events table", events.rows.map((r) => r.row).join("\n"));

    const { rows: tables } = await t.db.pool.query<{ name: string }>(
      `SELECT quote_ident(table_name) AS name FROM information_schema.tables
        WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
    );
    assert.ok(tables.some((r) => r.name === "secret_material"));
    for (const { name } of tables) {
      const { rows } = await t.db.pool.query<{ row: string }>(`SELECT x::text AS row FROM ${name} x`);
      assertAbsent(`table ${name}`, rows.map((r) => r.row).join("\n"));
    }

    const logs = t.logText();
    assert.ok(logs.includes('"audit":true'), "the captured logs hold the writes' audit lines");
    assert.ok(logs.includes("request completed"));
    assertAbsent("the server's logs", logs);

    assert.ok(t.responseTexts.length >= 18);
    for (const text of t.responseTexts) assertAbsent("a response", text);
  });

  test("is in the sealed material, which decrypts to the canonical file only with the right key", async () => {
    const found = await loadVersion(t.db.pool, versionId);
    assert.ok(found);
    const aad = {
      orgId: e.orgId,
      envId: e.envId,
      bundleId: found.record.bundleId,
      versionId,
      dataHash: found.record.dataHash,
    };
    const plain = decryptSecrets(found.material, aad, keyring).toString("utf8");
    const expected = canonicaliseSecretsFile(
      `${FILE}EXTRA=base64:${Buffer.from(`${PLANT}\nsecond line`).toString("base64")}\n`,
    );
    assert.equal(plain, expected.canonical.toString("utf8"));
    assert.equal(found.record.dataHash, expected.dataHash);
    assert.ok(plain.includes(`API_TOKEN=${PLANT}\n`), "the value really was stored");
    assert.equal((await readSecretMaterial(t.db.pool, keyring, versionId))?.data, plain);
    assert.throws(() => decryptSecrets(found.material, aad, new Keyring({ key: randomBytes(32) })));
  });
});
