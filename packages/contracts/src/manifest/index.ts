// plfm.toml (spec §5): parse, check, normalise, hash and format. Pure; shared by
// the server (release create) and the CLI (`manifest validate|fmt`, `deploy`).

export { formatManifest, manifestToToml } from "./canonical-toml.ts";
export {
  formatPath,
  MANIFEST_ERROR_CODES,
  type ManifestError,
  type ManifestErrorCode,
  type PathSegments,
} from "./errors.ts";
export { canonicalJson, manifestHash } from "./hash.ts";
export { type EffectiveProcess, effectiveProcess } from "./merge.ts";
export { type ManifestNormaliseResult, normaliseManifest } from "./normalise.ts";
export { decodeManifestBytes, type ManifestParseResult, parseManifestToml } from "./parse.ts";
export * from "./types.ts";
export { type ManifestValidateResult, validateManifest } from "./validate.ts";
export {
  canonicalQuantity,
  imageRefProblem,
  normaliseMountPath,
  quantityBytes,
  quantityToBytes,
} from "./values.ts";
