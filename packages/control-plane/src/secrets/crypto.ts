/**
 * Envelope encryption of secret versions (spec §9.2). Each version gets a
 * random 32-byte data key; the canonical bytes are sealed with AES-256-GCM
 * under it (random 12-byte nonce, AAD binding org, env, bundle, version and
 * data_hash), and the data key is wrapped by the keyring's current master key.
 * Binding the ids in the AAD means a row copied onto another version, env or
 * org fails to decrypt instead of leaking into the wrong workload.
 *
 * Layout: `ciphertext` and `wrapped_data_key` each carry their 16-byte GCM tag
 * appended (ciphertext ‖ tag), so a material row has no separate tag columns.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { SecretsCryptoError } from "./errors.ts";
import type { Keyring } from "./keyring.ts";

export const SECRETS_CIPHER = "aes-256-gcm";
const DATA_KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** What the AAD binds a version's ciphertext to. */
export interface SecretsAadFields {
  orgId: string;
  envId: string;
  bundleId: string;
  versionId: string;
  /** Lowercase hex sha256 of the canonical bytes. */
  dataHash: string;
}

/** A `secret_material` row without its id and timestamp (field names are the column names). */
export interface SecretMaterial {
  cipher: typeof SECRETS_CIPHER;
  /** 12-byte nonce of the data encryption. */
  nonce: Buffer;
  /** Encrypted canonical bytes ‖ 16-byte GCM tag. */
  ciphertext: Buffer;
  master_key_id: string;
  /** Encrypted data key ‖ 16-byte GCM tag (48 bytes). */
  wrapped_data_key: Buffer;
  wrapped_data_key_nonce: Buffer;
  plaintext_size_bytes: number;
}

const HASH = /^[0-9a-f]{64}$/;

/**
 * The AAD string `plfm-secrets-v1|org:…|env:…|bundle:…|version:…|hash:…`.
 * Fields may not contain `|`, so two different field sets never give one AAD.
 */
export function secretsAad(f: SecretsAadFields): string {
  for (const [name, value] of Object.entries(f)) {
    if (typeof value !== "string" || value === "" || value.includes("|")) {
      throw new RangeError(`secrets AAD field ${name} must be a non-empty string without "|"`);
    }
  }
  if (!HASH.test(f.dataHash))
    throw new RangeError("secrets AAD field dataHash must be 64 lowercase hex digits");
  return `plfm-secrets-v1|org:${f.orgId}|env:${f.envId}|bundle:${f.bundleId}|version:${f.versionId}|hash:${f.dataHash}`;
}

/**
 * Encrypts one version's canonical bytes under a fresh data key, wrapped by the
 * keyring's current master key. `aad.dataHash` must be the sha256 of `plaintext`.
 */
export function encryptSecrets(
  plaintext: Uint8Array,
  aad: SecretsAadFields,
  keyring: Keyring,
): SecretMaterial {
  const aadBytes = Buffer.from(secretsAad(aad));
  if (createHash("sha256").update(plaintext).digest("hex") !== aad.dataHash) {
    throw new RangeError("encryptSecrets: dataHash is not the sha256 of the plaintext");
  }
  const dataKey = randomBytes(DATA_KEY_BYTES);
  try {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv(SECRETS_CIPHER, dataKey, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aadBytes);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    const wrapped = keyring.wrap(dataKey);
    return {
      cipher: SECRETS_CIPHER,
      nonce,
      ciphertext,
      master_key_id: wrapped.masterKeyId,
      wrapped_data_key: wrapped.wrapped,
      wrapped_data_key_nonce: wrapped.nonce,
      plaintext_size_bytes: plaintext.byteLength,
    };
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Decrypts a version. Fails when anything — ciphertext, nonces, wrapped key,
 * an AAD field or the master key — differs from what was encrypted.
 * @throws SecretsCryptoError `master_key_unavailable` or `integrity_failed`
 */
export function decryptSecrets(material: SecretMaterial, aad: SecretsAadFields, keyring: Keyring): Buffer {
  const aadBytes = Buffer.from(secretsAad(aad));
  if (material.cipher !== SECRETS_CIPHER) {
    throw new SecretsCryptoError("integrity_failed", `unsupported cipher ${JSON.stringify(material.cipher)}`);
  }
  if (material.nonce.length !== NONCE_BYTES || material.ciphertext.length < TAG_BYTES) {
    throw new SecretsCryptoError("integrity_failed", "nonce or ciphertext has the wrong length");
  }
  const dataKey = unwrapDataKey(material, keyring);
  let plaintext: Buffer;
  try {
    const decipher = createDecipheriv(SECRETS_CIPHER, dataKey, material.nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aadBytes);
    decipher.setAuthTag(material.ciphertext.subarray(-TAG_BYTES));
    // update() hands out bytes before the tag is checked: they are wiped if final() fails.
    const head = decipher.update(material.ciphertext.subarray(0, -TAG_BYTES));
    try {
      plaintext = Buffer.concat([head, decipher.final()]);
    } catch {
      throw new SecretsCryptoError(
        "integrity_failed",
        "secrets ciphertext failed authentication (tampered data or AAD)",
      );
    } finally {
      head.fill(0);
    }
  } finally {
    dataKey.fill(0);
  }
  const hash = createHash("sha256").update(plaintext).digest("hex");
  if (plaintext.length !== material.plaintext_size_bytes || hash !== aad.dataHash) {
    plaintext.fill(0);
    throw new SecretsCryptoError(
      "integrity_failed",
      "decrypted secrets do not match their size or data_hash",
    );
  }
  return plaintext;
}

/**
 * Re-wraps the data key under the keyring's current master key: only
 * `master_key_id`, `wrapped_data_key` and `wrapped_data_key_nonce` change, so
 * the ciphertext (and its AAD) stay valid. Always produces a fresh wrap; a
 * rewrap job selects rows whose `master_key_id` is not `keyring.currentId`.
 * @throws SecretsCryptoError `master_key_unavailable` or `integrity_failed`
 */
export function rewrapSecrets(material: SecretMaterial, keyring: Keyring): SecretMaterial {
  const dataKey = unwrapDataKey(material, keyring);
  try {
    const wrapped = keyring.wrap(dataKey);
    return {
      ...material,
      master_key_id: wrapped.masterKeyId,
      wrapped_data_key: wrapped.wrapped,
      wrapped_data_key_nonce: wrapped.nonce,
    };
  } finally {
    dataKey.fill(0);
  }
}

/** The caller zeroes the result. A wrapped key is always 48 bytes, so the result is 32. */
function unwrapDataKey(material: SecretMaterial, keyring: Keyring): Buffer {
  return keyring.unwrap({
    masterKeyId: material.master_key_id,
    wrapped: material.wrapped_data_key,
    nonce: material.wrapped_data_key_nonce,
  });
}
