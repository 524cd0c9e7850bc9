// Path globs for `paths.include/exclude`, `global_inputs` and `hash('…')` (spec §6.2):
// `*` (within one segment), `**` (any depth), `?` (one character but `/`) and `{a,b}`.
// picomatch implements these; everything else it knows (extglobs, `!` negation, bracket
// classes) is switched off so a pattern means only what the spec says, and `[id].ts`
// matches itself literally. Dotfiles match: a CI filter is about files, hidden or not.

import picomatch from "picomatch";

const OPTIONS: picomatch.PicomatchOptions = {
  dot: true,
  noextglob: true,
  nonegate: true,
  literalBrackets: true,
  windows: false,
};

export type PathMatcher = (path: string) => boolean;

const cache = new Map<string, PathMatcher>();

/** A matcher for one glob, cached: plans evaluate the same patterns against many paths. */
export function globMatcher(pattern: string): PathMatcher {
  let m = cache.get(pattern);
  if (m === undefined) {
    const re = picomatch.makeRe(pattern, OPTIONS);
    m = (path) => re.test(path);
    if (cache.size > 10_000) cache.clear();
    cache.set(pattern, m);
  }
  return m;
}

/** The first pattern (in the given order) that matches `path`, or null. */
export function firstMatch(patterns: readonly string[], path: string): string | null {
  for (const p of patterns) if (globMatcher(p)(path)) return p;
  return null;
}

/** Why a glob is unusable, or null. Patterns are repository-relative, `/`-separated. */
export function globProblem(pattern: string): string | null {
  if (pattern.length === 0) return "glob is empty";
  if (pattern.startsWith("/")) return "glob must be relative to the repository root (no leading '/')";
  if (pattern.includes("\\")) return "glob must not contain '\\'";
  if (pattern.length > 1024) return "glob is longer than 1024 characters";
  return null;
}
