// Text → TOML table, with every failure turned into a ManifestError (never a throw).

import { parse, TomlError } from "smol-toml";
import { MANIFEST_ERROR_CODES as E, ErrorSink, type ManifestError } from "./errors.ts";
import { MANIFEST_MAX_BYTES } from "./types.ts";

export type ManifestParseResult =
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; errors: ManifestError[] };

// A lone surrogate cannot come from UTF-8; it means the caller's string was built
// from something else (e.g. a JSON body with "\ud800").
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Parses manifest text as strict TOML 1.0. Checks size ({@link MANIFEST_MAX_BYTES},
 * in UTF-8 bytes) first so oversized input costs nothing. Integers beyond 2^53 come
 * back as bigint (and are then rejected with a path) instead of losing precision.
 */
export function parseManifestToml(text: string): ManifestParseResult {
  const fail = (code: (typeof E)[keyof typeof E], message: string): ManifestParseResult => {
    const sink = new ErrorSink();
    sink.add([], code, message);
    return { ok: false, errors: sink.sorted() };
  };
  // Cheap bound before the exact count: a UTF-16 unit is at most 3 UTF-8 bytes.
  if (text.length > MANIFEST_MAX_BYTES || Buffer.byteLength(text, "utf8") > MANIFEST_MAX_BYTES) {
    return fail(E.E_TOO_LARGE, `the manifest must be at most ${MANIFEST_MAX_BYTES} bytes`);
  }
  if (LONE_SURROGATE.test(text)) return fail(E.E_ENCODING, "the manifest is not valid UTF-8");
  try {
    const value = parse(text, { integersAsBigInt: "asNeeded", maxDepth: 32 });
    return { ok: true, value };
  } catch (err) {
    if (err instanceof TomlError) {
      const first = err.message.split("\n")[0] ?? "invalid TOML";
      const reason = first.replace(/^Invalid TOML document: /, "");
      return fail(E.E_TOML, `line ${err.line}, column ${err.column}: ${reason}`);
    }
    return fail(E.E_TOML, `invalid TOML: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Decodes manifest bytes (a file, a request body) as strict UTF-8; a leading BOM is dropped. */
export function decodeManifestBytes(
  bytes: Uint8Array,
): { ok: true; text: string } | { ok: false; errors: ManifestError[] } {
  const sink = new ErrorSink();
  if (bytes.byteLength > MANIFEST_MAX_BYTES) {
    sink.add([], E.E_TOO_LARGE, `the manifest must be at most ${MANIFEST_MAX_BYTES} bytes`);
    return { ok: false, errors: sink.sorted() };
  }
  try {
    return { ok: true, text: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    sink.add([], E.E_ENCODING, "the manifest is not valid UTF-8");
    return { ok: false, errors: sink.sorted() };
  }
}
