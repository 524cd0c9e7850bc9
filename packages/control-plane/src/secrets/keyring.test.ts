import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { inspect } from "node:util";
import { decryptSecrets, encryptSecrets } from "./crypto.ts";
import { isSecretsCryptoError, type SecretsCryptoErrorCode } from "./errors.ts";
import { generateMasterKey, Keyring, loadKeyring } from "./keyring.ts";

const dir = mkdtempSync(join(tmpdir(), "plfm-keyring-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const b64 = (b: Buffer) => b.toString("base64");
const idOf = (b: Buffer) => createHash("sha256").update(b).digest("hex").slice(0, 8);
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

/** Expects `code`; the message must contain `includes` and none of `secrets` (or any 8-char piece of them). */
function expectLoadError(
  env: NodeJS.ProcessEnv,
  code: SecretsCryptoErrorCode,
  includes: RegExp,
  secrets: string[] = [],
) {
  assert.throws(
    () => loadKeyring(env),
    (err) => {
      assert.ok(isSecretsCryptoError(err, code), `expected ${code}, got ${String(err)}`);
      assert.match(err.message, includes);
      const printed = `${err.message}\n${inspect(err)}`;
      for (const s of secrets) {
        for (let i = 0; i + 8 <= s.length; i++) {
          assert.ok(!printed.includes(s.slice(i, i + 8)), `message leaks key material: ${err.message}`);
        }
      }
      return true;
    },
  );
}

test("the current key from PLFM_SECRETS_MASTER_KEY, its id the first 8 hex of sha256(key)", () => {
  const key = randomBytes(32);
  const ring = loadKeyring({ PLFM_SECRETS_MASTER_KEY: b64(key) });
  assert.equal(ring.currentId, idOf(key));
  assert.deepEqual(ring.ids, [idOf(key)]);
  assert.equal(
    loadKeyring({ PLFM_SECRETS_MASTER_KEY: b64(key), PLFM_SECRETS_MASTER_KEY_ID: "prod-2030" }).currentId,
    "prod-2030",
  );
});

test("the current key from PLFM_SECRETS_MASTER_KEY_FILE (surrounding whitespace ignored)", () => {
  const key = randomBytes(32);
  const ring = loadKeyring({ PLFM_SECRETS_MASTER_KEY_FILE: file("master.key", `${b64(key)}\n`) });
  assert.equal(ring.currentId, idOf(key));
});

test("no key configured is a clear master_key_missing", () => {
  expectLoadError({}, "master_key_missing", /PLFM_SECRETS_MASTER_KEY.*openssl rand -base64 32/);
  expectLoadError({ PLFM_SECRETS_MASTER_KEY: "  " }, "master_key_missing", /no secrets master key/);
});

test("wrong-length or non-base64 keys are rejected without printing them", () => {
  for (const n of [16, 31, 33, 64]) {
    const key = b64(randomBytes(n));
    expectLoadError(
      { PLFM_SECRETS_MASTER_KEY: key },
      "master_key_invalid",
      new RegExp(`exactly 32 bytes, got ${n} bytes`),
      [key],
    );
    const path = file(`short-${n}.key`, key);
    expectLoadError(
      { PLFM_SECRETS_MASTER_KEY_FILE: path },
      "master_key_invalid",
      /PLFM_SECRETS_MASTER_KEY_FILE.*exactly 32 bytes/,
      [key],
    );
  }
  const urlSafe = b64(randomBytes(32)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=$/, "");
  expectLoadError({ PLFM_SECRETS_MASTER_KEY: urlSafe }, "master_key_invalid", /not padded standard base64/, [
    urlSafe,
  ]);
  expectLoadError({ PLFM_SECRETS_MASTER_KEY: "s3cr3t-not-base64!" }, "master_key_invalid", /base64/, [
    "s3cr3t-not-base64!",
  ]);
});

test("inline and file together, a bad id, or an unreadable file are rejected", () => {
  const key = b64(randomBytes(32));
  expectLoadError(
    { PLFM_SECRETS_MASTER_KEY: key, PLFM_SECRETS_MASTER_KEY_FILE: file("both.key", key) },
    "master_key_invalid",
    /not both/,
    [key],
  );
  expectLoadError(
    { PLFM_SECRETS_MASTER_KEY: key, PLFM_SECRETS_MASTER_KEY_ID: "a|b" },
    "master_key_invalid",
    /_ID/,
    [key],
  );
  expectLoadError(
    { PLFM_SECRETS_MASTER_KEY_FILE: join(dir, "absent") },
    "master_key_invalid",
    /cannot read .*absent \(ENOENT\)/,
  );
});

test("previous keys file: decrypt-only keys, with optional explicit ids, comments and blank lines", () => {
  const [old1, old2, current] = [randomBytes(32), randomBytes(32), randomBytes(32)];
  const path = file(
    "previous",
    `# retired 2029\n${b64(old1)}\n\r\n  legacy-7 ${b64(old2)}  \r\n${b64(current)}\n`,
  );
  const ring = loadKeyring({ PLFM_SECRETS_MASTER_KEY: b64(current), PLFM_SECRETS_PREVIOUS_KEYS_FILE: path });
  assert.equal(ring.currentId, idOf(current));
  assert.deepEqual(
    ring.ids,
    [idOf(current), idOf(old1), "legacy-7"],
    "the current key listed again is ignored",
  );

  // Material made under the old keys opens with the loaded keyring.
  const plaintext = Buffer.from("# PLFM_SECRETS_V1\n");
  const aad = {
    orgId: "o",
    envId: "e",
    bundleId: "b",
    versionId: "v",
    dataHash: createHash("sha256").update(plaintext).digest("hex"),
  };
  const m = encryptSecrets(plaintext, aad, new Keyring({ key: old2, id: "legacy-7" }));
  assert.deepEqual(decryptSecrets(m, aad, ring), plaintext);
});

test("a bad previous key names the file and line, not the key", () => {
  const good = b64(randomBytes(32));
  const short = b64(randomBytes(24));
  const path = file("previous-bad", `${good}\n\n${short}\n`);
  expectLoadError(
    { PLFM_SECRETS_MASTER_KEY: good, PLFM_SECRETS_PREVIOUS_KEYS_FILE: path },
    "master_key_invalid",
    /PLFM_SECRETS_PREVIOUS_KEYS_FILE .*line 3: must be base64 of exactly 32 bytes/,
    [good, short],
  );
  const three = file("previous-three", `id ${good} extra\n`);
  expectLoadError(
    { PLFM_SECRETS_MASTER_KEY: good, PLFM_SECRETS_PREVIOUS_KEYS_FILE: three },
    "master_key_invalid",
    /line 1/,
    [good],
  );
});

test("one id for two different keys is rejected", () => {
  const a = randomBytes(32);
  const b = randomBytes(32);
  const path = file("clash", `same ${b64(b)}\n`);
  expectLoadError(
    {
      PLFM_SECRETS_MASTER_KEY: b64(a),
      PLFM_SECRETS_MASTER_KEY_ID: "same",
      PLFM_SECRETS_PREVIOUS_KEYS_FILE: path,
    },
    "master_key_invalid",
    /key id same is already used/,
    [b64(a), b64(b)],
  );
  assert.throws(
    () => new Keyring({ key: randomBytes(16) }),
    (err) => isSecretsCryptoError(err, "master_key_invalid"),
  );
});

test("a keyring never prints its keys", () => {
  const key = randomBytes(32);
  const ring = new Keyring({ key }, [{ key: randomBytes(32) }]);
  const printed = [inspect(ring, { showHidden: true, depth: 10 }), JSON.stringify(ring), String(ring)].join(
    "\n",
  );
  assert.ok(!printed.includes(b64(key)) && !printed.includes(key.toString("hex")), printed);
  assert.match(printed, new RegExp(ring.currentId));
});

test("generateMasterKey makes loadable keys", () => {
  const key = generateMasterKey();
  assert.equal(Buffer.from(key, "base64").length, 32);
  assert.notEqual(key, generateMasterKey());
  assert.equal(loadKeyring({ PLFM_SECRETS_MASTER_KEY: key }).currentId.length, 8);
});
