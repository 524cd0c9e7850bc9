// Patterns and value helpers for manifest fields: names, image references,
// quantities (`512Mi`, `4Gi`) and mount paths.

/** §2.1 name rule for the app: 1–63 characters. */
export const APP_NAME = /^[a-z][a-z0-9-]{0,62}$/;
/** Process types, port names and volume names (§5). */
export const PROCESS_NAME = /^[a-z][a-z0-9-]{0,31}$/;
/** Env var keys (§5, same rule as secrets keys in §9.1). */
export const VAR_KEY = /^[A-Z_][A-Z0-9_]*$/;
/** `user`: a name or uid, optionally with `:group`/`:gid` (OCI image config form). */
export const USER = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$/;
/** Absolute path (workdir, health path checked separately). */
export const ABSOLUTE_PATH = /^\/[^\0]*$/;
/** http health path: absolute, printable, no spaces (it goes on a request line). */
export const HTTP_PATH = /^\/[\x21-\x7e]*$/;
export const MEMORY = /^[0-9]+(Mi|Gi)$/;
export const GIB_QUANTITY = /^[0-9]+Gi$/;

const MI = 1024n * 1024n;
const GI = 1024n * MI;

/** Bytes of a `<n>Mi` / `<n>Gi` quantity, or undefined when malformed. Exact (bigint). */
export function quantityBytes(q: string): bigint | undefined {
  const m = /^([0-9]+)(Mi|Gi)$/.exec(q);
  if (!m) return undefined;
  return BigInt(m[1] as string) * (m[2] === "Gi" ? GI : MI);
}

/** Bytes as a number (for resources snapshots); only call on normalised quantities. */
export function quantityToBytes(q: string): number {
  const b = quantityBytes(q);
  if (b === undefined) throw new RangeError(`not a quantity: ${q}`);
  return Number(b);
}

/** Canonical spelling: whole GiB as `<n>Gi`, else `<n>Mi`; never leading zeros. */
export function canonicalQuantity(bytes: bigint): string {
  return bytes % GI === 0n ? `${bytes / GI}Gi` : `${bytes / MI}Mi`;
}

export const MIN_MEMORY_BYTES = 64n * MI;
export const MIN_GIB_BYTES = GI;
/** Quantities must stay exact as JS numbers (about 8 PiB), so consumers can use plain numbers. */
export const MAX_QUANTITY_BYTES = BigInt(Number.MAX_SAFE_INTEGER);

// OCI distribution reference grammar (github.com/distribution/reference), with the
// digest limited to sha256 as the spec requires. Either a tag or a digest (or both)
// must be present: an implicit `latest` is not allowed in a manifest.
const ALNUM = "[a-z0-9]+";
const SEPARATOR = "(?:[._]|__|-+)";
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "sha256:[a-f0-9]{64}";
const IMAGE_REF = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);

/** Longest image reference checked (the grammar allows 255 for the name plus tag and digest). */
export const MAX_IMAGE_REF_LENGTH = 512;

/**
 * Why `ref` is not an acceptable image reference, or undefined when it is.
 * Accepted: `name:tag`, `name@sha256:<64 hex>`, `name:tag@sha256:<64 hex>`.
 */
export function imageRefProblem(ref: string): string | undefined {
  if (ref.length > MAX_IMAGE_REF_LENGTH) return `must be at most ${MAX_IMAGE_REF_LENGTH} characters`;
  const at = ref.indexOf("@");
  if (at >= 0 && !new RegExp(`^${DIGEST}$`).test(ref.slice(at + 1))) {
    return `has a malformed digest: expected "@sha256:" followed by 64 lowercase hex characters`;
  }
  const m = IMAGE_REF.exec(ref);
  if (!m)
    return "must be an image reference such as registry.example.com/team/app:1.2 or app@sha256:<digest>";
  if ((m[1] as string).length > 255) return "has a repository name longer than 255 characters";
  if (m[2] === undefined && m[3] === undefined)
    return "must name a tag (name:tag) or a digest (name@sha256:<64 hex>)";
  return undefined;
}

/** Paths a volume may not be mounted on (exactly). */
const FORBIDDEN_EXACT = ["/", "/run", "/tmp"];
/** Paths a volume may not be mounted on or anywhere below. */
const FORBIDDEN_TREES = ["/proc", "/sys", "/dev", "/run/secrets"];
/** Linux PATH_MAX. */
const MAX_MOUNT_PATH = 4096;

/** A mount path checked and normalised: `{path}` or `{problem}`. */
export function normaliseMountPath(raw: string): { path: string } | { problem: string } {
  if (!raw.startsWith("/")) return { problem: "must be an absolute path" };
  if (raw.length > MAX_MOUNT_PATH) return { problem: `must be at most ${MAX_MOUNT_PATH} characters` };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\x00-\x1f\x7f]/.test(raw)) return { problem: "must not contain control characters" };
  const segments = raw.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) return { problem: 'must not contain ".." segments' };
  const path = `/${segments.join("/")}`;
  if (FORBIDDEN_EXACT.includes(path)) return { problem: `must not be ${path}` };
  for (const tree of FORBIDDEN_TREES) {
    if (path === tree || path.startsWith(`${tree}/`)) {
      return {
        problem:
          tree === "/run/secrets"
            ? "must not be /run/secrets or below (secrets are always delivered at /run/secrets/platform.env)"
            : `must not be ${tree} or below`,
      };
    }
  }
  return { path };
}
