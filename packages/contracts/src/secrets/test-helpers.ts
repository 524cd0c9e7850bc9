// Shared by the secrets tests: asserting an error's code and field while
// proving the planted value is nowhere in anything the error would print.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { inspect } from "node:util";
import { type SecretsErrorCode, SecretsFormatError, type SecretsProblemCode } from "./errors.ts";

/** A distinctive value: if any fragment of it shows up in an error, the error leaks. */
export const PLANT = "PLANTED-s3cr3t-VALUE-7e1f";

/**
 * Every fragment of the planted value that would betray a leak: each 6-character
 * window of it and of its base64 spelling (so a truncated echo is caught too).
 */
export const PLANT_FORMS = [...windows(PLANT, 6), ...windows(Buffer.from(PLANT).toString("base64"), 6)];

/** All substrings of `text` of length `size`. */
export function windows(text: string, size: number): string[] {
  return Array.from({ length: Math.max(1, text.length - size + 1) }, (_, i) => text.slice(i, i + size));
}

/** Everything a caller could print or serialise from an error. */
export function everythingPrinted(err: SecretsFormatError): string {
  return [
    err.message,
    String(err),
    err.stack ?? "",
    inspect(err, { depth: 10 }),
    JSON.stringify({ code: err.code, message: err.message, details: err.details }),
  ].join("\n");
}

/** Runs `fn`, expects a SecretsFormatError with `code` and a detail `{field, code: problem}`. */
export function expectSecretsError(
  fn: () => unknown,
  code: SecretsErrorCode,
  field: string,
  problem: SecretsProblemCode,
): SecretsFormatError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SecretsFormatError, `expected SecretsFormatError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.ok(
    caught.details.some((d) => d.field === field && d.code === problem),
    `expected {field: ${field}, code: ${problem}} in ${JSON.stringify(caught.details)}`,
  );
  assertNoPlant(caught);
  return caught;
}

export function assertNoPlant(err: SecretsFormatError): void {
  const printed = everythingPrinted(err);
  const leaked = PLANT_FORMS.find((form) => printed.includes(form));
  assert.equal(leaked, undefined, `error leaks the value: ${printed}`);
}

export const HEADER = "# PLFM_SECRETS_V1\n";
