// Error codes and field paths for manifest validation.
//
// The CLI prints these and the API returns them as `details[{field, code, message}]`
// of a 400 `invalid_manifest`, so codes are a stable contract: add new ones, never
// rename. Paths use the manifest's own key names so a user can find the spot:
// `processes.web.resources.memory`, `volumes[0].size`, `env.vars."bad key"`.

/**
 * Every code the manifest validator emits. The spec (§5) names only
 * `E_VOLUME_REPLICA_LIMIT`; the rest follow its style.
 */
export const MANIFEST_ERROR_CODES = {
  /** TOML syntax error; the message carries line and column. Path is "" (the document). */
  E_TOML: "E_TOML",
  /** The bytes are not UTF-8 (or the string holds lone surrogates). Path "". */
  E_ENCODING: "E_ENCODING",
  /** The document is larger than {@link MANIFEST_MAX_BYTES}. Path "". */
  E_TOO_LARGE: "E_TOO_LARGE",
  /** A key the v1 schema does not define. */
  E_UNKNOWN_KEY: "E_UNKNOWN_KEY",
  /** A required key is missing (also: no process at all). */
  E_REQUIRED: "E_REQUIRED",
  /** Wrong TOML type (string where a table is expected, float where an integer is …). */
  E_TYPE: "E_TYPE",
  /** A string does not match its pattern (names, image refs, quantities, var keys …). */
  E_PATTERN: "E_PATTERN",
  /** A string value outside its closed set (pull_policy, restart.policy, health.type). */
  E_ENUM: "E_ENUM",
  /** A number, length or size outside its bounds (incl. scaling.max < scaling.min). */
  E_RANGE: "E_RANGE",
  /** `schema_version` present but not "v1"; nothing else is checked then. */
  E_SCHEMA_VERSION: "E_SCHEMA_VERSION",
  /** Something v1 explicitly rejects: autoscale, non-tcp ports, non-ext4, host mounts, custom secrets paths. */
  E_UNSUPPORTED: "E_UNSUPPORTED",
  /** A key that exists but does not apply in this variant (health.path on tcp, max_retries without on-failure). */
  E_NOT_APPLICABLE: "E_NOT_APPLICABLE",
  /** A second port name / port number / volume name / mount path / mount of one volume. */
  E_DUPLICATE: "E_DUPLICATE",
  /** A name or number that must point at something declared: mounts[].volume, health.port. */
  E_REFERENCE: "E_REFERENCE",
  /** A mount path that is relative, contains `..`, or is a forbidden system path. */
  E_MOUNT_PATH: "E_MOUNT_PATH",
  /** A process with mounts may not scale above one instance (spec §5, exact message). */
  E_VOLUME_REPLICA_LIMIT: "E_VOLUME_REPLICA_LIMIT",
} as const;

/** One of {@link MANIFEST_ERROR_CODES}. */
export type ManifestErrorCode = (typeof MANIFEST_ERROR_CODES)[keyof typeof MANIFEST_ERROR_CODES];

/** One validation finding. `path` is "" for document-level errors. */
export interface ManifestError {
  path: string;
  code: ManifestErrorCode;
  message: string;
}

/** A path as segments: keys are strings, array indices numbers. */
export type PathSegments = readonly (string | number)[];

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/** Renders segments as `a.b[0]."odd key"` (TOML-style quoting for keys that are not bare). */
export function formatPath(segments: PathSegments): string {
  let out = "";
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else out += (out === "" ? "" : ".") + (BARE_KEY.test(s) ? s : JSON.stringify(s));
  }
  return out;
}

/** Collects findings while the validator walks the document. */
export class ErrorSink {
  private readonly found: { segments: PathSegments; error: ManifestError }[] = [];

  add(segments: PathSegments, code: ManifestErrorCode, message: string): void {
    this.found.push({ segments, error: { path: formatPath(segments), code, message } });
  }

  get count(): number {
    return this.found.length;
  }

  /**
   * Findings ordered by path (segment by segment, indices numerically), then code,
   * then message. Sorting — rather than walk order — makes the list independent of
   * the order keys appear in the file, so the same mistakes always read the same.
   */
  sorted(): ManifestError[] {
    return [...this.found]
      .sort(
        (a, b) =>
          compareSegments(a.segments, b.segments) ||
          cmp(a.error.code, b.error.code) ||
          cmp(a.error.message, b.error.message),
      )
      .map((f) => f.error);
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareSegments(a: PathSegments, b: PathSegments): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] as string | number;
    const y = b[i] as string | number;
    if (x === y) continue;
    if (typeof x === "number" && typeof y === "number") return x - y;
    if (typeof x === "number") return -1; // indices before keys; only mixed on malformed input
    if (typeof y === "number") return 1;
    return cmp(x, y);
  }
  return a.length - b.length;
}
