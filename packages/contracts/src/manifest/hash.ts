// Canonical JSON and the manifest hash (spec §5).

import { createHash } from "node:crypto";
import type { NormalisedManifest } from "./types.ts";

/**
 * JSON with object keys sorted recursively (by UTF-16 code unit, i.e. plain `<`) and
 * no whitespace. Undefined object members are omitted, as JSON.stringify does; the
 * normalised manifest never holds null, NaN or non-plain objects.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    const s = JSON.stringify(value);
    if (s === undefined) throw new TypeError(`cannot encode ${typeof value} as canonical JSON`);
    return s;
  }
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
}

/** `sha256:` + lowercase hex sha256 of the canonical JSON of the normalised manifest. */
export function manifestHash(manifest: NormalisedManifest): string {
  return `sha256:${createHash("sha256").update(canonicalJson(manifest), "utf8").digest("hex")}`;
}
