/**
 * Keys and values of the `platform_env_v1` format (spec §9.1): the key rule,
 * strict padded base64, and the choice between plain and `base64:` form.
 */
import { Buffer, isUtf8 } from "node:buffer";
import type { SecretsProblemCode } from "./errors.ts";
import type { SecretsLimits } from "./limits.ts";

/** The exact first non-empty line of every secrets file. */
export const SECRETS_HEADER = "# PLFM_SECRETS_V1";
/** Prefix of a value written as padded standard base64. */
export const BASE64_PREFIX = "base64:";
/** The key rule. Keys are ASCII, so JS string order is byte order. */
export const SECRET_KEY_PATTERN = /^[A-Z_][A-Z0-9_]*$/;

// Padded standard alphabet only: no URL-safe characters, no whitespace, no missing padding.
const BASE64_SHAPE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes padded standard base64, or returns null. Non-zero padding bits are
 * rejected too (the re-encoding must match), so every byte string has exactly
 * one accepted spelling.
 */
export function decodeStrictBase64(text: string): Buffer | null {
  if (!BASE64_SHAPE.test(text)) return null;
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? bytes : null;
}

/** Bytes the value of `text` decodes to, computed from its length alone. */
function decodedLength(base64: string): number {
  const pad = base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0;
  return (base64.length / 4) * 3 - pad;
}

/** True when `bytes` may be written in plain form: UTF-8 without CR, LF or NUL, not starting with `base64:`. */
export function isPlainRepresentable(bytes: Uint8Array): boolean {
  if (bytes.includes(0x0a) || bytes.includes(0x0d) || bytes.includes(0x00)) return false;
  if (!isUtf8(bytes)) return false;
  return !Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .subarray(0, BASE64_PREFIX.length)
    .equals(Buffer.from(BASE64_PREFIX));
}

/**
 * The canonical text of a value: plain when representable and at most
 * `maxPlainValueBytes` long, else `base64:` + padded standard base64.
 */
export function encodeSecretValue(
  bytes: Uint8Array,
  limits: Pick<SecretsLimits, "maxPlainValueBytes">,
): string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length <= limits.maxPlainValueBytes && isPlainRepresentable(buf)) return buf.toString("utf8");
  return BASE64_PREFIX + buf.toString("base64");
}

/** Outcome of reading one value; a failure never carries the value. */
export type ValueResult =
  | { ok: true; bytes: Buffer }
  | { ok: false; code: SecretsProblemCode; message: string };

// Matches a lone UTF-16 surrogate: in `u` mode a well-formed pair is one code point, not a surrogate.
const LONE_SURROGATE = /\p{Surrogate}/u;

/** True when `text` has no lone surrogate, i.e. it encodes to UTF-8 without replacement characters. */
export function isWellFormedText(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/**
 * Reads a value written in file syntax: `base64:` values are always decoded,
 * others are plain UTF-8 without CR, LF or NUL. Applies the value limits.
 */
export function decodeSecretValue(text: string, limits: SecretsLimits): ValueResult {
  if (text.startsWith(BASE64_PREFIX)) {
    const encoded = text.slice(BASE64_PREFIX.length);
    if (!BASE64_SHAPE.test(encoded)) {
      return {
        ok: false,
        code: "invalid_base64",
        message: "value after base64: is not padded standard base64",
      };
    }
    const size = decodedLength(encoded);
    if (size > limits.maxDecodedValueBytes) {
      return {
        ok: false,
        code: "value_too_large",
        message: `decoded value is ${size} bytes; at most ${limits.maxDecodedValueBytes}`,
      };
    }
    const bytes = decodeStrictBase64(encoded);
    if (bytes === null) {
      return { ok: false, code: "invalid_base64", message: "value after base64: has non-zero padding bits" };
    }
    return { ok: true, bytes };
  }
  if (!isWellFormedText(text))
    return { ok: false, code: "invalid_value", message: "value is not valid UTF-8" };
  if (/[\r\n\0]/.test(text)) {
    return {
      ok: false,
      code: "invalid_value",
      message: "plain value contains CR, LF or NUL; write it as base64:",
    };
  }
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length > limits.maxPlainValueBytes) {
    return {
      ok: false,
      code: "value_too_large",
      message: `plain value is ${bytes.length} bytes; at most ${limits.maxPlainValueBytes} (longer values must be base64:)`,
    };
  }
  return { ok: true, bytes };
}

/**
 * How a key is named in an error when it breaks the key rule: printable ASCII
 * only and bounded, so a response or log line stays readable.
 */
export function describeKey(key: string, max = 64): string {
  const printable = key.replace(/[^\x20-\x7e]/g, "?");
  return printable.length > max ? `${printable.slice(0, max)}…` : printable;
}
