import assert from "node:assert/strict";
import { createDecipheriv, createHash, randomBytes } from "node:crypto";
import { test } from "node:test";
import {
  decryptSecrets,
  encryptSecrets,
  rewrapSecrets,
  type SecretMaterial,
  type SecretsAadFields,
  secretsAad,
} from "./crypto.ts";
import { isSecretsCryptoError } from "./errors.ts";
import { Keyring, masterKeyId } from "./keyring.ts";

const PLAINTEXT = Buffer.from("# PLFM_SECRETS_V1\nDATABASE_URL=postgres://u:PLANTED-pw@db/app\n");
const AAD: SecretsAadFields = {
  orgId: "org_01J0000000000000000000000A",
  envId: "env_01J0000000000000000000000B",
  bundleId: "sb_01J0000000000000000000000C",
  versionId: "sv_01J0000000000000000000000D",
  dataHash: createHash("sha256").update(PLAINTEXT).digest("hex"),
};

const k1 = randomBytes(32);
const k2 = randomBytes(32);
const ring1 = new Keyring({ key: k1 });

function expectCode(
  fn: () => unknown,
  code: "integrity_failed" | "master_key_unavailable",
  label = "",
): void {
  assert.throws(fn, (err) => isSecretsCryptoError(err, code), `${label}: expected ${code}`);
}

/** A copy of `buf` with one bit flipped at `index` (negative counts from the end). */
function flip(buf: Buffer, index: number): Buffer {
  const out = Buffer.from(buf);
  const i = index < 0 ? out.length + index : index;
  out[i] = (out[i] as number) ^ 0x01;
  return out;
}

test("the AAD string is exactly the spec's", () => {
  assert.equal(
    secretsAad(AAD),
    `plfm-secrets-v1|org:${AAD.orgId}|env:${AAD.envId}|bundle:${AAD.bundleId}|version:${AAD.versionId}|hash:${AAD.dataHash}`,
  );
  assert.throws(() => secretsAad({ ...AAD, envId: "env|x" }), RangeError);
  assert.throws(() => secretsAad({ ...AAD, orgId: "" }), RangeError);
  assert.throws(() => secretsAad({ ...AAD, dataHash: AAD.dataHash.toUpperCase() }), RangeError);
});

test("round trip, and the material has the documented layout (independently decrypted)", () => {
  const m = encryptSecrets(PLAINTEXT, AAD, ring1);
  assert.equal(m.cipher, "aes-256-gcm");
  assert.equal(m.master_key_id, masterKeyId(k1));
  assert.equal(m.nonce.length, 12);
  assert.equal(m.wrapped_data_key_nonce.length, 12);
  assert.equal(m.wrapped_data_key.length, 48);
  assert.equal(m.ciphertext.length, PLAINTEXT.length + 16);
  assert.equal(m.plaintext_size_bytes, PLAINTEXT.length);
  assert.ok(!m.ciphertext.includes(Buffer.from("PLANTED-pw")));
  assert.deepEqual(decryptSecrets(m, AAD, ring1), PLAINTEXT);

  // Decrypt by hand from the spec alone: wrap AAD, then data AAD, tags appended.
  const unwrap = createDecipheriv("aes-256-gcm", k1, m.wrapped_data_key_nonce);
  unwrap.setAAD(Buffer.from("plfm-secrets-wrap-v1"));
  unwrap.setAuthTag(m.wrapped_data_key.subarray(32));
  const dataKey = Buffer.concat([unwrap.update(m.wrapped_data_key.subarray(0, 32)), unwrap.final()]);
  const open = createDecipheriv("aes-256-gcm", dataKey, m.nonce);
  open.setAAD(Buffer.from(secretsAad(AAD)));
  open.setAuthTag(m.ciphertext.subarray(-16));
  assert.deepEqual(Buffer.concat([open.update(m.ciphertext.subarray(0, -16)), open.final()]), PLAINTEXT);
});

test("every encryption uses a fresh data key and nonces", () => {
  const a = encryptSecrets(PLAINTEXT, AAD, ring1);
  const b = encryptSecrets(PLAINTEXT, AAD, ring1);
  assert.notDeepEqual(a.nonce, b.nonce);
  assert.notDeepEqual(a.ciphertext, b.ciphertext);
  assert.notDeepEqual(a.wrapped_data_key, b.wrapped_data_key);
  assert.notDeepEqual(a.wrapped_data_key_nonce, b.wrapped_data_key_nonce);
});

test("an empty bundle encrypts too", () => {
  const empty = Buffer.alloc(0);
  const aad = { ...AAD, dataHash: createHash("sha256").update(empty).digest("hex") };
  assert.deepEqual(decryptSecrets(encryptSecrets(empty, aad, ring1), aad, ring1), empty);
});

test("encrypt refuses a dataHash that is not the plaintext's", () => {
  assert.throws(() => encryptSecrets(PLAINTEXT, { ...AAD, dataHash: "0".repeat(64) }, ring1), RangeError);
});

test("tampering with ciphertext, tag, nonces, wrapped key or cipher fails with integrity_failed", () => {
  const m = encryptSecrets(PLAINTEXT, AAD, ring1);
  const tampered: [string, SecretMaterial][] = [
    ["ciphertext body", { ...m, ciphertext: flip(m.ciphertext, 0) }],
    ["ciphertext tag", { ...m, ciphertext: flip(m.ciphertext, -1) }],
    ["ciphertext truncated", { ...m, ciphertext: m.ciphertext.subarray(1) }],
    ["ciphertext too short", { ...m, ciphertext: m.ciphertext.subarray(0, 8) }],
    ["nonce", { ...m, nonce: flip(m.nonce, 5) }],
    ["nonce length", { ...m, nonce: m.nonce.subarray(0, 11) }],
    ["wrapped key", { ...m, wrapped_data_key: flip(m.wrapped_data_key, 3) }],
    ["wrapped key tag", { ...m, wrapped_data_key: flip(m.wrapped_data_key, -1) }],
    ["wrapped key length", { ...m, wrapped_data_key: m.wrapped_data_key.subarray(0, 47) }],
    ["wrapped key nonce", { ...m, wrapped_data_key_nonce: flip(m.wrapped_data_key_nonce, 0) }],
    ["plaintext size", { ...m, plaintext_size_bytes: m.plaintext_size_bytes + 1 }],
    ["cipher", { ...m, cipher: "aes-128-gcm" as "aes-256-gcm" }],
  ];
  for (const [label, bad] of tampered)
    expectCode(() => decryptSecrets(bad, AAD, ring1), "integrity_failed", label);
  // Another material's wrapped key (same master key) does not open this ciphertext.
  const other = encryptSecrets(PLAINTEXT, AAD, ring1);
  const swapped = {
    ...m,
    wrapped_data_key: other.wrapped_data_key,
    wrapped_data_key_nonce: other.wrapped_data_key_nonce,
  };
  expectCode(() => decryptSecrets(swapped, AAD, ring1), "integrity_failed", "swapped data key");
  assert.deepEqual(decryptSecrets(m, AAD, ring1), PLAINTEXT, "the original still decrypts");
});

test("changing any AAD field fails with integrity_failed", () => {
  const m = encryptSecrets(PLAINTEXT, AAD, ring1);
  for (const field of Object.keys(AAD) as (keyof SecretsAadFields)[]) {
    const value =
      field === "dataHash" ? createHash("sha256").update("other").digest("hex") : `${AAD[field]}X`;
    expectCode(() => decryptSecrets(m, { ...AAD, [field]: value }, ring1), "integrity_failed", field);
  }
});

test("a different key under the same id fails with integrity_failed; an unknown id with master_key_unavailable", () => {
  const m = encryptSecrets(PLAINTEXT, AAD, ring1);
  const impostor = new Keyring({ key: k2, id: m.master_key_id });
  expectCode(() => decryptSecrets(m, AAD, impostor), "integrity_failed", "impostor");
  const stranger = new Keyring({ key: k2 });
  assert.throws(
    () => decryptSecrets(m, AAD, stranger),
    (err) => isSecretsCryptoError(err, "master_key_unavailable") && err.message.includes(m.master_key_id),
  );
  expectCode(() => rewrapSecrets(m, stranger), "master_key_unavailable", "rewrap");
});

test("rotation: previous keys decrypt, new versions use the new key, rewrap moves old material over", () => {
  const old = encryptSecrets(PLAINTEXT, AAD, ring1);
  const rotated = new Keyring({ key: k2 }, [{ key: k1 }]);
  assert.deepEqual(decryptSecrets(old, AAD, rotated), PLAINTEXT);
  const fresh = encryptSecrets(PLAINTEXT, AAD, rotated);
  assert.equal(fresh.master_key_id, masterKeyId(k2));

  const moved = rewrapSecrets(old, rotated);
  assert.equal(moved.master_key_id, masterKeyId(k2));
  assert.notEqual(moved.master_key_id, old.master_key_id);
  assert.deepEqual(moved.ciphertext, old.ciphertext);
  assert.deepEqual(moved.nonce, old.nonce);
  assert.equal(moved.plaintext_size_bytes, old.plaintext_size_bytes);
  assert.notDeepEqual(moved.wrapped_data_key, old.wrapped_data_key);
  assert.notDeepEqual(moved.wrapped_data_key_nonce, old.wrapped_data_key_nonce);

  // Once every row is rewrapped the old key can go.
  const onlyNew = new Keyring({ key: k2 });
  assert.deepEqual(decryptSecrets(moved, AAD, onlyNew), PLAINTEXT);
  expectCode(() => decryptSecrets(old, AAD, onlyNew), "master_key_unavailable", "old row, old key gone");
});

test("a tampered wrapped key cannot be rewrapped", () => {
  const m = encryptSecrets(PLAINTEXT, AAD, ring1);
  expectCode(
    () => rewrapSecrets({ ...m, wrapped_data_key: flip(m.wrapped_data_key, 0) }, ring1),
    "integrity_failed",
  );
});
