// Pure reading of tar entry names: which root-relative path an entry names and whether it is a whiteout
// (OCI image spec, "Representing Changes"). No file system here, so every rule is testable alone.

const WHITEOUT_PREFIX = ".wh.";
const OPAQUE_MARKER = ".wh..wh..opq";

export type ParsedName =
  | { kind: "path"; components: string[] }
  /** `.wh.<name>`: remove <name> of lower layers. */
  | { kind: "whiteout"; components: string[] }
  /** `.wh..wh..opq`: hide every lower-layer entry of the directory `components`. */
  | { kind: "opaque"; components: string[] }
  /** Other `.wh..wh.` names are AUFS bookkeeping that carries nothing for us. */
  | { kind: "ignored" }
  | { kind: "invalid"; detail: "path_traversal" | "invalid_name" };

/**
 * Splits an entry name into components below the root. A leading `/` is dropped, so an absolute name
 * lands inside the root; `.` and empty components vanish; any `..` is refused outright rather than
 * resolved, because resolving it lexically disagrees with the kernel once symlinks are involved.
 */
export function splitEntryPath(name: string): string[] | "path_traversal" | "invalid_name" {
  if (name.includes("\0")) return "invalid_name";
  const out: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") return "path_traversal";
    out.push(part);
  }
  return out;
}

export function parseEntryName(name: string): ParsedName {
  const components = splitEntryPath(name);
  if (typeof components === "string") return { kind: "invalid", detail: components };
  const base = components.at(-1);
  if (base === undefined || !base.startsWith(WHITEOUT_PREFIX)) return { kind: "path", components };
  const dir = components.slice(0, -1);
  if (base === OPAQUE_MARKER) return { kind: "opaque", components: dir };
  if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return { kind: "ignored" };
  const target = base.slice(WHITEOUT_PREFIX.length);
  // `.wh.` alone names nothing; `.wh..` names the directory itself and `.wh...` is `..`.
  if (target === "" || target === ".") return { kind: "invalid", detail: "invalid_name" };
  if (target === "..") return { kind: "invalid", detail: "path_traversal" };
  return { kind: "whiteout", components: [...dir, target] };
}

/** The key under which a root-relative path is tracked. */
export function pathKey(components: readonly string[]): string {
  return components.join("/");
}

/** `key` and every ancestor of it, nearest last (`a/b/c` → `a`, `a/b`, `a/b/c`). */
export function withAncestors(components: readonly string[]): string[] {
  return components.map((_, i) => pathKey(components.slice(0, i + 1)));
}
