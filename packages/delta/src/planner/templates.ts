// `${{ … }}` templates, resolved at planning time (spec delta-ci.md §6.2): `branch`,
// `pr_number`, `matrix.<key>` and `hash('<glob>')`. Checked when the file is parsed,
// so resolving later cannot fail and every mistake gets a line and column.

import { sha256Hex } from "./canonical.ts";
import { globMatcher, globProblem } from "./glob.ts";
import type { TreeFile } from "./types.ts";

const TEMPLATE = /\$\{\{(.*?)\}\}/g;
const HASH = /^hash\(\s*(?:'([^']*)'|"([^"]*)")\s*\)$/;
const MATRIX = /^matrix\.([A-Za-z0-9_-]+)$/;

export interface TemplateContext {
  branch: string;
  prNumber: number;
  matrix: Readonly<Record<string, string>>;
  hash: (glob: string) => string;
}

/** Why `text` has a bad template, or null. `matrixKeys` are the keys the job's matrix defines. */
export function templateProblem(text: string, matrixKeys: ReadonlySet<string>): string | null {
  const rest = text.replace(TEMPLATE, "");
  if (rest.includes("${{")) return "unterminated '${{'";
  for (const m of text.matchAll(TEMPLATE)) {
    const expr = (m[1] ?? "").trim();
    if (expr === "branch" || expr === "pr_number") continue;
    const mx = MATRIX.exec(expr);
    if (mx) {
      if (!matrixKeys.has(mx[1] ?? "")) return `'${expr}' names no key of this job's matrix`;
      continue;
    }
    const h = HASH.exec(expr);
    if (h) {
      const p = globProblem(h[1] ?? h[2] ?? "");
      if (p) return `hash(): ${p}`;
      continue;
    }
    return `unknown template expression '${expr}' (known: branch, pr_number, matrix.<key>, hash('<glob>'))`;
  }
  return null;
}

export function resolveTemplate(text: string, ctx: TemplateContext): string {
  return text.replace(TEMPLATE, (_all, raw: string) => {
    const expr = raw.trim();
    if (expr === "branch") return ctx.branch;
    if (expr === "pr_number") return String(ctx.prNumber);
    const mx = MATRIX.exec(expr);
    if (mx) return ctx.matrix[mx[1] ?? ""] ?? "";
    const h = HASH.exec(expr);
    if (h) return ctx.hash(h[1] ?? h[2] ?? "");
    // templateProblem() rejected anything else at parse time.
    throw new Error(`unchecked template expression ${expr}`);
  });
}

/**
 * `hash('glob')`: sha256 over the sorted (path, blob id) pairs of the commit's files that
 * match, one `path NUL oid LF` record each; the same tree always gives the same key.
 */
export function treeHasher(files: readonly TreeFile[]): (glob: string) => string {
  const memo = new Map<string, string>();
  return (glob) => {
    let h = memo.get(glob);
    if (h === undefined) {
      const m = globMatcher(glob);
      const lines = files
        .filter((f) => m(f.path))
        .map((f) => `${f.path}\0${f.oid}\n`)
        .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      h = sha256Hex(lines.join(""));
      memo.set(glob, h);
    }
    return h;
  };
}

/** `refs/heads/main` → `main`; any other ref is used as given. */
export function branchOf(ref: string): string {
  return ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : ref;
}
