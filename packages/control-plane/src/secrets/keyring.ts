/**
 * Master keys for envelope encryption (spec §9.2). The keyring holds the
 * current key (wraps new data keys) and decrypt-only previous keys, looked up
 * by id. Key bytes never leave this module: callers ask it to wrap or unwrap
 * a data key, so nothing else can log, serialise or persist a master key.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { inspect } from "node:util";
import { SecretsCryptoError } from "./errors.ts";

/** AAD of every data-key wrap. */
export const WRAP_AAD = "plfm-secrets-wrap-v1";
export const MASTER_KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** A wrapped data key is its 32-byte ciphertext followed by the 16-byte GCM tag. */
export const WRAPPED_KEY_BYTES = 32 + TAG_BYTES;

export const MASTER_KEY_ENV = "PLFM_SECRETS_MASTER_KEY";
export const MASTER_KEY_FILE_ENV = "PLFM_SECRETS_MASTER_KEY_FILE";
export const MASTER_KEY_ID_ENV = "PLFM_SECRETS_MASTER_KEY_ID";
export const PREVIOUS_KEYS_FILE_ENV = "PLFM_SECRETS_PREVIOUS_KEYS_FILE";

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A data key wrapped under a master key. */
export interface WrappedKey {
  masterKeyId: string;
  /** Ciphertext ‖ 16-byte tag ({@link WRAPPED_KEY_BYTES} bytes). */
  wrapped: Buffer;
  nonce: Buffer;
}

/** The default id of a master key: the first 8 hex digits of sha256(key bytes). */
export function masterKeyId(key: Uint8Array): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 8);
}

/** A fresh master key as base64, for dev mode or `openssl rand -base64 32`-style setup. */
export function generateMasterKey(): string {
  return randomBytes(MASTER_KEY_BYTES).toString("base64");
}

/**
 * Decodes a base64 master key. The message names `source` and the problem,
 * never the text: a near-miss key is still mostly a key.
 */
export function decodeMasterKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  if (!BASE64.test(trimmed)) {
    throw new SecretsCryptoError("master_key_invalid", `${source}: not padded standard base64`);
  }
  const key = Buffer.from(trimmed, "base64");
  if (key.length !== MASTER_KEY_BYTES) {
    const got = key.length;
    key.fill(0);
    throw new SecretsCryptoError(
      "master_key_invalid",
      `${source}: must be base64 of exactly ${MASTER_KEY_BYTES} bytes, got ${got} bytes (generate one with: openssl rand -base64 32)`,
    );
  }
  return key;
}

export class Keyring {
  /** Id of the key that wraps new data keys. */
  readonly currentId: string;
  readonly #keys = new Map<string, Buffer>();

  /**
   * @param current the wrapping key; `id` defaults to {@link masterKeyId}
   * @param previous decrypt-only keys (a key equal to one already present is ignored)
   * @throws SecretsCryptoError `master_key_invalid` on a wrong length, bad id or an id used by two keys
   */
  constructor(
    current: { key: Uint8Array; id?: string },
    previous: readonly { key: Uint8Array; id?: string }[] = [],
  ) {
    this.currentId = this.#add(current.key, current.id, "current master key");
    previous.forEach((k, i) => {
      this.#add(k.key, k.id, `previous master key ${i + 1}`);
    });
  }

  #add(key: Uint8Array, explicitId: string | undefined, source: string): string {
    if (key.length !== MASTER_KEY_BYTES) {
      throw new SecretsCryptoError(
        "master_key_invalid",
        `${source}: must be exactly ${MASTER_KEY_BYTES} bytes`,
      );
    }
    const id = explicitId ?? masterKeyId(key);
    if (!KEY_ID.test(id)) {
      throw new SecretsCryptoError("master_key_invalid", `${source}: key id must match ${KEY_ID.source}`);
    }
    const existing = this.#keys.get(id);
    if (existing !== undefined) {
      if (existing.equals(key)) return id;
      throw new SecretsCryptoError(
        "master_key_invalid",
        `${source}: key id ${id} is already used by another key`,
      );
    }
    this.#keys.set(id, Buffer.from(key));
    return id;
  }

  /** Every key id this keyring can unwrap, current first. */
  get ids(): string[] {
    return [this.currentId, ...[...this.#keys.keys()].filter((id) => id !== this.currentId)];
  }

  has(id: string): boolean {
    return this.#keys.has(id);
  }

  /** Wraps a data key under the current key (AES-256-GCM, fresh 12-byte nonce, AAD {@link WRAP_AAD}). */
  wrap(dataKey: Uint8Array): WrappedKey {
    const key = this.#keys.get(this.currentId) as Buffer;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(WRAP_AAD));
    const wrapped = Buffer.concat([cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
    return { masterKeyId: this.currentId, wrapped, nonce };
  }

  /**
   * Unwraps a data key. The caller zeroes the result after use.
   * @throws SecretsCryptoError `master_key_unavailable` (unknown id) or `integrity_failed`
   */
  unwrap(w: WrappedKey): Buffer {
    const key = this.#keys.get(w.masterKeyId);
    if (key === undefined) {
      throw new SecretsCryptoError(
        "master_key_unavailable",
        `master key ${JSON.stringify(w.masterKeyId)} is not configured (have ${this.ids.join(", ")}); add it to ${PREVIOUS_KEYS_FILE_ENV}`,
      );
    }
    if (w.nonce.length !== NONCE_BYTES || w.wrapped.length !== WRAPPED_KEY_BYTES) {
      throw new SecretsCryptoError("integrity_failed", "wrapped data key or its nonce has the wrong length");
    }
    const decipher = createDecipheriv("aes-256-gcm", key, w.nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(WRAP_AAD));
    decipher.setAuthTag(w.wrapped.subarray(-TAG_BYTES));
    const head = decipher.update(w.wrapped.subarray(0, -TAG_BYTES));
    try {
      return Buffer.concat([head, decipher.final()]);
    } catch {
      throw new SecretsCryptoError(
        "integrity_failed",
        `data key unwrap failed under master key ${w.masterKeyId}: tampered wrapped key or a different key with this id`,
      );
    } finally {
      head.fill(0);
    }
  }

  /** Never print key bytes, whatever logs the keyring. */
  [inspect.custom](): string {
    return `Keyring { current: ${this.currentId}, ids: [${this.ids.join(", ")}] }`;
  }

  toJSON(): { currentId: string; ids: string[] } {
    return { currentId: this.currentId, ids: this.ids };
  }
}

/** Reads a file's text; a seam for tests. */
export type ReadText = (path: string) => string;
const readText: ReadText = (path) => readFileSync(path, "utf8");

/**
 * Builds the keyring from the environment (spec §1, §9.2):
 * `PLFM_SECRETS_MASTER_KEY` or `PLFM_SECRETS_MASTER_KEY_FILE` (base64 of 32 bytes; one, not both),
 * `PLFM_SECRETS_MASTER_KEY_ID` (else the first 8 hex of sha256(key)), and
 * `PLFM_SECRETS_PREVIOUS_KEYS_FILE`: one decrypt-only key per line as `<base64>` or
 * `<id> <base64>` (the latter for keys that had an explicit id); blank lines and `#` comments are skipped.
 * @throws SecretsCryptoError `master_key_missing` when no key is configured, `master_key_invalid` otherwise
 */
export function loadKeyring(env: NodeJS.ProcessEnv = process.env, read: ReadText = readText): Keyring {
  const inline = nonEmpty(env[MASTER_KEY_ENV]);
  const file = nonEmpty(env[MASTER_KEY_FILE_ENV]);
  if (inline !== undefined && file !== undefined) {
    throw new SecretsCryptoError(
      "master_key_invalid",
      `set ${MASTER_KEY_ENV} or ${MASTER_KEY_FILE_ENV}, not both`,
    );
  }
  if (inline === undefined && file === undefined) {
    throw new SecretsCryptoError(
      "master_key_missing",
      `no secrets master key: set ${MASTER_KEY_ENV} (base64 of 32 bytes, e.g. from \`openssl rand -base64 32\`) or ${MASTER_KEY_FILE_ENV}`,
    );
  }
  const current =
    inline !== undefined
      ? decodeMasterKey(inline, MASTER_KEY_ENV)
      : decodeMasterKey(
          readKeyFile(file as string, read, MASTER_KEY_FILE_ENV),
          `${MASTER_KEY_FILE_ENV} (${file})`,
        );
  const id = nonEmpty(env[MASTER_KEY_ID_ENV]);
  if (id !== undefined && !KEY_ID.test(id)) {
    throw new SecretsCryptoError("master_key_invalid", `${MASTER_KEY_ID_ENV}: must match ${KEY_ID.source}`);
  }
  const previousFile = nonEmpty(env[PREVIOUS_KEYS_FILE_ENV]);
  const previous =
    previousFile === undefined
      ? []
      : parsePreviousKeys(readKeyFile(previousFile, read, PREVIOUS_KEYS_FILE_ENV), previousFile);
  try {
    return new Keyring(id === undefined ? { key: current } : { key: current, id }, previous);
  } finally {
    current.fill(0);
    for (const p of previous) p.key.fill(0);
  }
}

function parsePreviousKeys(text: string, path: string): { key: Buffer; id?: string }[] {
  const out: { key: Buffer; id?: string }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const source = `${PREVIOUS_KEYS_FILE_ENV} (${path}) line ${i + 1}`;
    const parts = line.split(/\s+/);
    if (parts.length > 2)
      throw new SecretsCryptoError("master_key_invalid", `${source}: expected "<base64>" or "<id> <base64>"`);
    const [first, second] = parts as [string, string | undefined];
    if (second !== undefined && !KEY_ID.test(first)) {
      throw new SecretsCryptoError("master_key_invalid", `${source}: key id must match ${KEY_ID.source}`);
    }
    const key = decodeMasterKey(second ?? first, source);
    out.push(second === undefined ? { key } : { key, id: first });
  });
  return out;
}

function readKeyFile(path: string, read: ReadText, variable: string): string {
  try {
    return read(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw new SecretsCryptoError("master_key_invalid", `${variable}: cannot read ${path} (${code})`);
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v === undefined || v === "" ? undefined : v;
}
