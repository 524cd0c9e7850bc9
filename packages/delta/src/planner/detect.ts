// Recipe detection (spec delta-ci.md §6.1). Pure: the caller lists the tree and hands in
// the few manifest texts this module asks for; nothing from the repository is run, and
// Makefile targets are found as text, never by invoking make.

import { globMatcher } from "./glob.ts";

export const TASKS = ["lint", "build", "test"] as const;
export type Task = (typeof TASKS)[number];

export interface Project {
  /** `root` or the manifest directory. */
  name: string;
  /** "" for the repository root. */
  dir: string;
}

export interface DetectedJob {
  key: string;
  project: string;
  dir: string;
  task: Task;
  /** The manifest that won precedence for this task. */
  manifest: string;
  run: string[];
}

export interface Detection {
  projects: Project[];
  jobs: DetectedJob[];
}

const MAX_DIR_DEPTH = 3;
const SKIP_DIRS = new Set(["node_modules", "vendor", "target", "dist"]);
const MANIFESTS = ["Makefile", "package.json", "go.mod", "Cargo.toml", "pyproject.toml"] as const;
/** Manifests whose content detection reads; go.mod and Cargo.toml count by presence. */
const READ_MANIFESTS = new Set(["Makefile", "package.json", "pyproject.toml"]);

/** Lockfiles in the §6.1 table order, which is also the tie-break when a directory holds several. */
const LOCKFILES = [
  { file: "package-lock.json", pm: "npm", install: "npm ci" },
  { file: "pnpm-lock.yaml", pm: "pnpm", install: "pnpm install --frozen-lockfile" },
  { file: "yarn.lock", pm: "yarn", install: "yarn install --immutable" },
] as const;

/**
 * Changes to these affect every job (§6.1). Lockfiles count at the root only: a nested one
 * belongs to its project and is covered by "affects its project".
 */
export const GLOBAL_INPUTS: readonly string[] = [
  ".delta/**",
  "package-lock.json",
  "pnpm-lock.yaml",
  "yarn.lock",
  "Cargo.lock",
  "go.work",
  "go.work.sum",
  "rust-toolchain*",
  ".nvmrc",
  ".tool-versions",
  ".python-version",
];

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

function baseOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Depth counts directories below the root: `a/b/c/package.json` is depth 3, the deepest searched. */
function dirSearched(dir: string): boolean {
  if (dir === "") return true;
  const parts = dir.split("/");
  if (parts.length > MAX_DIR_DEPTH) return false;
  return parts.every((p) => !SKIP_DIRS.has(p) && !p.startsWith("."));
}

function isManifest(path: string): boolean {
  return (MANIFESTS as readonly string[]).includes(baseOf(path)) && dirSearched(dirOf(path));
}

/** The manifest paths whose text {@link detectRecipes} will ask for. */
export function manifestsToRead(paths: readonly string[]): string[] {
  return paths.filter((p) => isManifest(p) && READ_MANIFESTS.has(baseOf(p)));
}

export function projectName(dir: string): string {
  return dir === "" ? "root" : dir;
}

function join(dir: string, file: string): string {
  return dir === "" ? file : `${dir}/${file}`;
}

function makeTargets(text: string): Set<Task> {
  const found = new Set<Task>();
  for (const t of TASKS) if (new RegExp(`^${t}:`, "m").test(text)) found.add(t);
  return found;
}

function packageScripts(text: string): Set<Task> {
  const found = new Set<Task>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // A broken package.json yields no tasks; its own install would fail the same way.
    return found;
  }
  const scripts = (parsed as { scripts?: unknown } | null)?.scripts;
  if (scripts === null || typeof scripts !== "object" || Array.isArray(scripts)) return found;
  for (const t of TASKS) {
    const s = (scripts as Record<string, unknown>)[t];
    if (typeof s === "string" && s.trim() !== "") found.add(t);
  }
  return found;
}

/** The nearest lockfile in `dir` or above it: workspaces keep one lockfile at their root. */
function lockfileFor(dir: string, files: ReadonlySet<string>) {
  for (let d = dir; ; d = dirOf(d)) {
    for (const l of LOCKFILES) if (files.has(join(d, l.file))) return l;
    if (d === "") return null;
  }
}

function pythonTasks(text: string, dir: string, paths: readonly string[]): Map<Task, string[]> {
  const tasks = new Map<Task, string[]>();
  if (/^\s*\[tool\.ruff[\].]/m.test(text)) tasks.set("lint", ["ruff check ."]);
  if (/^\s*\[build-system\]/m.test(text)) tasks.set("build", ["python -m build"]);
  const testsPrefix = join(dir, "tests/");
  if (/^\s*\[tool\.pytest[\].]/m.test(text) || paths.some((p) => p.startsWith(testsPrefix)))
    tasks.set("test", ["pytest"]);
  return tasks;
}

const GO: Record<Task, string[]> = {
  lint: ["go vet ./..."],
  build: ["go build ./..."],
  test: ["go test ./..."],
};
const CARGO: Record<Task, string[]> = {
  lint: ["cargo clippy --locked -- -D warnings"],
  build: ["cargo build --locked"],
  test: ["cargo test --locked"],
};

/**
 * Projects and their jobs. Per project and task the first source wins: Makefile, then
 * package.json, then the language default (go.mod, Cargo.toml, pyproject.toml, in the
 * order of the spec's table). `read` returns the text of a path from {@link manifestsToRead}.
 */
export function detectRecipes(
  paths: readonly string[],
  read: (path: string) => string | undefined,
): Detection {
  const files = new Set(paths);
  const byDir = new Map<string, Set<string>>();
  for (const p of paths) {
    if (!isManifest(p)) continue;
    const d = dirOf(p);
    const s = byDir.get(d) ?? new Set<string>();
    byDir.set(d, s);
    s.add(baseOf(p));
  }
  const projects: Project[] = [];
  const jobs: DetectedJob[] = [];
  for (const dir of [...byDir.keys()].sort()) {
    const present = byDir.get(dir) ?? new Set<string>();
    const project = projectName(dir);
    projects.push({ name: project, dir });
    const chosen = new Map<Task, { manifest: string; run: string[] }>();
    const offer = (task: Task, manifest: string, run: string[]) => {
      if (!chosen.has(task)) chosen.set(task, { manifest: join(dir, manifest), run });
    };
    if (present.has("Makefile")) {
      for (const t of makeTargets(read(join(dir, "Makefile")) ?? "")) offer(t, "Makefile", [`make ${t}`]);
    }
    if (present.has("package.json")) {
      const lock = lockfileFor(dir, files);
      const pm = lock?.pm ?? "npm";
      const install = lock?.install ?? "npm install";
      for (const t of packageScripts(read(join(dir, "package.json")) ?? ""))
        offer(t, "package.json", [install, `${pm} run ${t}`]);
    }
    if (present.has("go.mod")) for (const t of TASKS) offer(t, "go.mod", GO[t]);
    if (present.has("Cargo.toml")) for (const t of TASKS) offer(t, "Cargo.toml", CARGO[t]);
    if (present.has("pyproject.toml")) {
      const py = pythonTasks(read(join(dir, "pyproject.toml")) ?? "", dir, paths);
      for (const [t, run] of py) offer(t, "pyproject.toml", run);
    }
    for (const t of TASKS) {
      const c = chosen.get(t);
      if (c) jobs.push({ key: `${project}:${t}`, project, dir, task: t, manifest: c.manifest, run: c.run });
    }
  }
  return { projects, jobs };
}

/**
 * Changed files per affected project: a file affects its deepest project and that
 * project's ancestors, i.e. every project whose directory contains it.
 */
export function affectedProjects(
  projects: readonly Project[],
  changed: readonly string[],
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of changed) {
    for (const p of projects) {
      if (p.dir === "" || f.startsWith(`${p.dir}/`)) {
        const list = out.get(p.name) ?? [];
        out.set(p.name, list);
        list.push(f);
      }
    }
  }
  return out;
}

/** Changed files that are global inputs, with the pattern each matched. */
export function globalInputChanges(patterns: readonly string[], changed: readonly string[]) {
  const hits: { pattern: string; file: string }[] = [];
  for (const f of changed) {
    const p = patterns.find((g) => globMatcher(g)(f));
    if (p !== undefined) hits.push({ pattern: p, file: f });
  }
  return hits;
}
