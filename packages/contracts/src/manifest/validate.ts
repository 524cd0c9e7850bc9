// The one entry point the CLI (`manifest validate`) and the server (release create) share.

import type { ManifestError } from "./errors.ts";
import { manifestHash } from "./hash.ts";
import { normaliseManifest } from "./normalise.ts";
import { parseManifestToml } from "./parse.ts";
import type { NormalisedManifest } from "./types.ts";

export type ManifestValidateResult =
  | { ok: true; manifest: NormalisedManifest; hash: string }
  | { ok: false; errors: ManifestError[] };

/**
 * Parses, checks and normalises `plfm.toml` text. On success returns the normalised
 * manifest and its `manifest_hash`; otherwise every error found, sorted by path.
 * A TOML syntax error is the only error reported for a document that does not parse.
 * Never throws.
 */
export function validateManifest(text: string): ManifestValidateResult {
  const parsed = parseManifestToml(text);
  if (!parsed.ok) return parsed;
  const n = normaliseManifest(parsed.value);
  if (!n.ok) return n;
  return { ok: true, manifest: n.manifest, hash: manifestHash(n.manifest) };
}
