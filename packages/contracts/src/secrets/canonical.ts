/**
 * The canonical secrets file and its `data_hash` (spec §9.1), and the two other
 * ways a version is made: a `{values}` PUT and a PATCH merged server-side.
 * Every path ends in {@link CanonicalSecrets}, so every version's bytes and hash
 * come from one function.
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { ProblemCollector } from "./errors.ts";
import { DEFAULT_SECRETS_LIMITS, type SecretsLimits } from "./limits.ts";
import { parseSecretsFile, type SecretValues } from "./parse.ts";
import {
  decodeSecretValue,
  describeKey,
  encodeSecretValue,
  SECRET_KEY_PATTERN,
  SECRETS_HEADER,
} from "./value.ts";

/** A validated bundle in canonical form: what a secret version stores (encrypted) and hashes. */
export interface CanonicalSecrets {
  /** Decoded values, keys in canonical (bytewise) order. */
  values: SecretValues;
  /** Key names in canonical order: the version's `keys[]` metadata. */
  keys: string[];
  /** The canonical file bytes. */
  canonical: Buffer;
  /** Lowercase hex sha256 of {@link CanonicalSecrets.canonical}. */
  dataHash: string;
}

/**
 * A value in a `{values}` PUT or a PATCH. A string is read in file syntax (a
 * `base64:` prefix is decoded, anything else is plain text), so the values of a
 * canonical file can be sent back unchanged; bytes are taken as they are.
 */
export type SecretValueInput = string | Uint8Array;

// Keys are ASCII ([A-Z0-9_]), where UTF-16 code unit order equals byte order.
const byKey = ([a]: [string, unknown], [b]: [string, unknown]): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Writes the canonical file: header, `KEY=VALUE\n` in bytewise key order, no
 * comments. Values must already satisfy the limits (see {@link canonicaliseValues}
 * for untrusted input); `limits.maxPlainValueBytes` picks plain or `base64:` form.
 */
export function canonicalSecretsBytes(
  values: ReadonlyMap<string, Uint8Array>,
  limits: Pick<SecretsLimits, "maxPlainValueBytes"> = DEFAULT_SECRETS_LIMITS,
): Buffer {
  const parts = [`${SECRETS_HEADER}\n`];
  for (const [key, value] of [...values].sort(byKey)) {
    if (!SECRET_KEY_PATTERN.test(key))
      throw new TypeError("canonicalSecretsBytes: a key breaks the key rule");
    parts.push(`${key}=${encodeSecretValue(value, limits)}\n`);
  }
  return Buffer.from(parts.join(""), "utf8");
}

/** `data_hash`: lowercase hex sha256 of the canonical bytes. */
export function secretsDataHash(canonical: Uint8Array): string {
  return createHash("sha256").update(canonical).digest("hex");
}

/**
 * Parses a submitted file and canonicalises it.
 * @throws SecretsFormatError
 */
export function canonicaliseSecretsFile(
  input: string | Uint8Array,
  limits: SecretsLimits = DEFAULT_SECRETS_LIMITS,
): CanonicalSecrets {
  return finish(parseSecretsFile(input, limits), limits, new ProblemCollector());
}

/**
 * Validates and canonicalises a `{values}` PUT (all keys replaced).
 * @throws SecretsFormatError
 */
export function canonicaliseValues(
  values: Readonly<Record<string, SecretValueInput>>,
  limits: SecretsLimits = DEFAULT_SECRETS_LIMITS,
): CanonicalSecrets {
  const problems = new ProblemCollector();
  const out: SecretValues = new Map();
  for (const [key, value] of entriesOf(values, problems)) {
    const bytes = readValue(key, value, limits, problems);
    if (bytes !== null) out.set(key, bytes);
  }
  return finish(out, limits, problems);
}

/**
 * Applies a PATCH to the current version's values: a `null` deletes the key
 * (deleting an absent key is a no-op), anything else sets it. An HTTP
 * `{set, unset}` body maps to `{...set, ...Object.fromEntries(unset.map(k => [k, null]))}`.
 * @throws SecretsFormatError
 */
export function mergeSecrets(
  current: ReadonlyMap<string, Uint8Array>,
  patch: Readonly<Record<string, SecretValueInput | null>>,
  limits: SecretsLimits = DEFAULT_SECRETS_LIMITS,
): CanonicalSecrets {
  const problems = new ProblemCollector();
  const out: SecretValues = new Map();
  for (const [key, value] of current) out.set(key, Buffer.from(value));
  for (const [key, value] of entriesOf(patch, problems)) {
    if (value === null) {
      out.delete(key);
      continue;
    }
    const bytes = readValue(key, value, limits, problems);
    if (bytes !== null) out.set(key, bytes);
  }
  return finish(out, limits, problems);
}

/** Own entries whose keys follow the key rule and the key length limit; the others are reported. */
function entriesOf<T>(record: Readonly<Record<string, T>>, problems: ProblemCollector): [string, T][] {
  if (typeof record !== "object" || record === null || Array.isArray(record)) {
    problems.add("values", "invalid_value", "values must be an object of KEY: value");
    return [];
  }
  const out: [string, T][] = [];
  for (const [key, value] of Object.entries(record)) {
    if (!SECRET_KEY_PATTERN.test(key)) {
      problems.add(describeKey(key), "invalid_key", `key must match ${SECRET_KEY_PATTERN.source}`);
    } else {
      out.push([key, value]);
    }
  }
  return out;
}

function readValue(
  key: string,
  value: unknown,
  limits: SecretsLimits,
  problems: ProblemCollector,
): Buffer | null {
  if (value instanceof Uint8Array) {
    if (value.byteLength > limits.maxDecodedValueBytes) {
      problems.add(
        key,
        "value_too_large",
        `value is ${value.byteLength} bytes; at most ${limits.maxDecodedValueBytes}`,
      );
      return null;
    }
    return Buffer.from(value); // a copy: the caller may reuse its buffer
  }
  if (typeof value !== "string") {
    problems.add(key, "invalid_value", "value must be a string");
    return null;
  }
  const result = decodeSecretValue(value, limits);
  if (result.ok) return result.bytes;
  problems.add(key, result.code, result.message);
  return null;
}

/** Checks the whole-bundle limits, then writes the canonical form. */
function finish(values: SecretValues, limits: SecretsLimits, problems: ProblemCollector): CanonicalSecrets {
  const sorted: SecretValues = new Map([...values].sort(byKey));
  for (const key of sorted.keys()) {
    if (key.length > limits.maxKeyLength) {
      problems.add(
        `${key.slice(0, limits.maxKeyLength)}…`,
        "key_too_long",
        `key is ${key.length} characters; at most ${limits.maxKeyLength}`,
      );
    }
  }
  if (sorted.size > limits.maxKeys) {
    const overflow = [...sorted.keys()][limits.maxKeys] ?? "keys";
    problems.add(overflow, "too_many_keys", `${sorted.size} keys; at most ${limits.maxKeys}`);
  }
  problems.throwIfAny();
  const canonical = canonicalSecretsBytes(sorted, limits);
  if (canonical.length > limits.maxFileBytes) {
    problems.add(
      "file",
      "file_too_large",
      `canonical file is ${canonical.length} bytes; at most ${limits.maxFileBytes}`,
    );
    problems.throwIfAny();
  }
  return { values: sorted, keys: [...sorted.keys()], canonical, dataHash: secretsDataHash(canonical) };
}
