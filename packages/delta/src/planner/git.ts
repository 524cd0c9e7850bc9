// The planner's only I/O with repositories: git, run through execFile (never a shell),
// reading objects only. Nothing from the repository runs: hooks point at /dev/null,
// fsmonitor, external diff and textconv are off, LFS smudge is skipped, and no command
// here checks out, fetches or touches submodules. Works on bare and non-bare repos.

import { execFile } from "node:child_process";
import { KernelError } from "@plfm/kernel";
import type { TreeFile } from "./types.ts";

export const GIT_TIMEOUT_MS = 30_000;
export const MAX_BLOB_BYTES = 1024 * 1024;
const MAX_LIST_BYTES = 512 * 1024 * 1024;
const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

const SAFE_CONFIG = [
  "-c",
  "core.hooksPath=/dev/null",
  "-c",
  "protocol.file.allow=never",
  "-c",
  "core.fsmonitor=false",
  "-c",
  "diff.external=",
  "-c",
  "submodule.recurse=false",
];

interface GitResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs git; resolves with its exit code, rejects only when git could not run or timed out. */
function git(repoDir: string, args: readonly string[], maxBuffer = MAX_LIST_BYTES): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    execFile(
      "git",
      [...SAFE_CONFIG, ...args],
      {
        cwd: repoDir,
        encoding: "buffer",
        timeout: GIT_TIMEOUT_MS,
        maxBuffer,
        // A clean environment: no GIT_DIR or similar leaking in from our own process.
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOME: process.env.HOME ?? "/nonexistent",
          GIT_LFS_SKIP_SMUDGE: "1",
          GIT_TERMINAL_PROMPT: "0",
          GIT_CONFIG_NOSYSTEM: "1",
          GIT_NO_REPLACE_OBJECTS: "1",
          LC_ALL: "C",
        },
      },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
        if (e && typeof e.code !== "number") {
          reject(
            gitFailure(
              args,
              e.code === "ERR_CHILD_PROCESS_STDIO_MAXBUFFER"
                ? "exceeded its output limit"
                : e.killed
                  ? `timed out after ${GIT_TIMEOUT_MS} ms`
                  : String(e.code ?? e.message),
              e,
            ),
          );
          return;
        }
        resolve({ code: typeof e?.code === "number" ? e.code : 0, stdout, stderr: stderr.toString("utf8") });
      },
    );
  });
}

function gitFailure(args: readonly string[], why: string, cause?: unknown): KernelError {
  // Only the subcommand goes into the message: arguments may hold paths of a private repository.
  return new KernelError("planner_failure", `git ${args[0] ?? ""} failed: ${why}`, {
    retryable: true,
    cause,
  });
}

async function ok(repoDir: string, args: readonly string[], maxBuffer?: number): Promise<Buffer> {
  const r = await git(repoDir, args, maxBuffer);
  if (r.code !== 0) throw gitFailure(args, `exit ${r.code}: ${r.stderr.trim().split("\n")[0] ?? ""}`);
  return r.stdout;
}

function assertSha(sha: string): void {
  // Revisions are passed as arguments, so one starting with '-' could be read as an option.
  if (!SHA.test(sha)) throw new KernelError("invalid_argument", "expected a full hexadecimal commit sha");
}

/** Read-only access to one repository's objects. */
export class GitRepo {
  constructor(readonly dir: string) {}

  /** The commit a ref or sha names, or null when it does not exist. */
  async resolveCommit(rev: string): Promise<string | null> {
    if (rev.startsWith("-")) throw new KernelError("invalid_argument", "a revision must not start with '-'");
    const r = await git(this.dir, [
      "rev-parse",
      "--verify",
      "--quiet",
      "--end-of-options",
      `${rev}^{commit}`,
    ]);
    return r.code === 0 ? r.stdout.toString("utf8").trim() : null;
  }

  async hasCommit(sha: string): Promise<boolean> {
    assertSha(sha);
    const r = await git(this.dir, ["cat-file", "-e", `${sha}^{commit}`]);
    return r.code === 0;
  }

  /** Regular files of the commit's tree (symlinks and submodules are left out). */
  async listFiles(commit: string): Promise<TreeFile[]> {
    assertSha(commit);
    const out = await ok(this.dir, ["ls-tree", "-r", "-l", "-z", "--full-tree", commit]);
    const files: TreeFile[] = [];
    for (const rec of out.toString("utf8").split("\0")) {
      if (rec === "") continue;
      const tab = rec.indexOf("\t");
      const [mode, type, oid, size] = rec.slice(0, tab).split(/ +/);
      if (type !== "blob" || (mode !== "100644" && mode !== "100755") || !oid) continue;
      files.push({ path: rec.slice(tab + 1), oid, size: Number(size) });
    }
    return files;
  }

  /**
   * A blob's bytes; refused above 1 MiB so a hostile repository cannot exhaust memory.
   * `knownSize` (from {@link listFiles}) saves asking git; the output cap holds either way.
   */
  async readBlob(oid: string, knownSize?: number): Promise<Buffer> {
    assertSha(oid);
    const size = knownSize ?? Number((await ok(this.dir, ["cat-file", "-s", oid])).toString("utf8").trim());
    if (!(size <= MAX_BLOB_BYTES)) throw new BlobTooLarge(oid, size);
    try {
      return await ok(this.dir, ["cat-file", "blob", oid], MAX_BLOB_BYTES);
    } catch (err) {
      if (err instanceof KernelError && /output limit/.test(err.message)) throw new BlobTooLarge(oid, size);
      throw err;
    }
  }

  /** Names changed between two commits, rename detection off so both sides of a move count. */
  async diffNames(base: string, head: string): Promise<string[]> {
    assertSha(base);
    assertSha(head);
    const out = await ok(this.dir, [
      "diff",
      "--name-only",
      "-z",
      "--no-renames",
      "--no-ext-diff",
      "--no-textconv",
      "--ignore-submodules=none",
      base,
      head,
      "--",
    ]);
    return out
      .toString("utf8")
      .split("\0")
      .filter((p) => p !== "");
  }

  /** The best common ancestor, or null when the histories are unrelated. */
  async mergeBase(a: string, b: string): Promise<string | null> {
    assertSha(a);
    assertSha(b);
    const r = await git(this.dir, ["merge-base", a, b]);
    if (r.code === 1) return null;
    if (r.code !== 0)
      throw gitFailure(["merge-base"], `exit ${r.code}: ${r.stderr.trim().split("\n")[0] ?? ""}`);
    return r.stdout.toString("utf8").trim();
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    assertSha(ancestor);
    assertSha(descendant);
    const r = await git(this.dir, ["merge-base", "--is-ancestor", ancestor, descendant]);
    if (r.code === 0) return true;
    if (r.code === 1) return false;
    throw gitFailure(["merge-base"], `exit ${r.code}: ${r.stderr.trim().split("\n")[0] ?? ""}`);
  }
}

export class BlobTooLarge extends Error {
  constructor(
    readonly oid: string,
    readonly size: number,
  ) {
    super(`blob ${oid} is ${size} bytes (limit ${MAX_BLOB_BYTES})`);
    this.name = "BlobTooLarge";
  }
}
