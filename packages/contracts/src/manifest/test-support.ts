// Test-only helpers for the manifest tests (not exported from index.ts).

import assert from "node:assert/strict";
import type { ManifestError } from "./errors.ts";
import { validateManifest } from "./validate.ts";

/** A valid preamble: schema_version and image. */
export const HEAD = `schema_version = "v1"\n[image]\nref = "app:1"\n`;

/** A manifest with one process `web` (256Mi unless `resources` is given) and `body` inside its table. */
export function web(body = "", { resources = 'resources = { memory = "256Mi" }', after = "" } = {}): string {
  return `${HEAD}[processes.web]\n${resources}\n${body}\n${after}\n`;
}

/** The errors of an invalid manifest (fails the test if it is valid). */
export function errorsOf(text: string): ManifestError[] {
  const r = validateManifest(text);
  if (r.ok) assert.fail(`expected errors, but the manifest is valid:\n${text}`);
  return r.errors;
}

/** Asserts the manifest fails with exactly this one error (so no cascades either). */
export function onlyError(text: string, path: string, code: string, message?: RegExp): void {
  const errors = errorsOf(text);
  assert.deepEqual(
    errors.map((e) => [e.path, e.code]),
    [[path, code]],
    `for manifest:\n${text}\ngot ${JSON.stringify(errors, null, 2)}`,
  );
  if (message) assert.match((errors[0] as ManifestError).message, message);
}

/** Asserts the manifest is valid and returns the validation result. */
export function valid(text: string) {
  const r = validateManifest(text);
  if (!r.ok) assert.fail(`expected a valid manifest, got ${JSON.stringify(r.errors, null, 2)}\n${text}`);
  return r;
}
