// Test support: a real git repository in a temp dir, built with execFile so tests
// exercise the same git the planner reads. Fixed dates and identity keep shas stable.

import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TestRepo {
  dir: string;
  git(...args: string[]): Promise<string>;
  /** Writes files (null deletes), commits everything, returns the new sha. */
  commit(message: string, files: Record<string, string | null>): Promise<string>;
  cleanup(): Promise<void>;
}

export async function createTestRepo(): Promise<TestRepo> {
  const root = await mkdtemp(join(tmpdir(), "delta-planner-"));
  const dir = join(root, "work");
  await mkdir(dir);
  let tick = 0;
  const git = async (...args: string[]) => {
    const when = `${1_700_000_000 + tick} +0000`;
    const { stdout } = await run("git", args, {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: root,
        GIT_CONFIG_NOSYSTEM: "1",
        GIT_AUTHOR_NAME: "t",
        GIT_AUTHOR_EMAIL: "t@example.com",
        GIT_COMMITTER_NAME: "t",
        GIT_COMMITTER_EMAIL: "t@example.com",
        GIT_AUTHOR_DATE: when,
        GIT_COMMITTER_DATE: when,
      },
    });
    return stdout.trim();
  };
  await git("init", "-q", "-b", "main");
  return {
    dir,
    git,
    async commit(message, files) {
      tick += 1;
      for (const [path, content] of Object.entries(files)) {
        const full = join(dir, path);
        if (content === null) await rm(full);
        else {
          await mkdir(dirname(full), { recursive: true });
          await writeFile(full, content);
        }
      }
      await git("add", "-A");
      await git("commit", "-q", "--allow-empty", "-m", message);
      return git("rev-parse", "HEAD");
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}
