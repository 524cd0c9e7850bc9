// The planner's edge (spec delta-ci.md §6 "Inputs"): picks the merge base for the
// trigger, reads the diff, the tree, the manifests and pipeline.yml with git, then
// hands everything to the pure buildPlan(). The server and `delta plan --explain` call
// this same function, which is what makes their plan hashes equal.

import { KernelError } from "@plfm/kernel";
import { detectRecipes, manifestsToRead } from "./detect.ts";
import { BlobTooLarge, GitRepo, MAX_BLOB_BYTES } from "./git.ts";
import { type PipelineConfig, parsePipeline } from "./pipeline.ts";
import { buildPlan, type PlanBody } from "./plan.ts";
import type { FailOpenCause } from "./types.ts";
import { configError, PIPELINE_PATH } from "./yaml-nodes.ts";

export const MAX_CHANGED_FILES = 100_000;
const ZERO_SHA = /^0+$/;

export type Trigger = "push" | "pull_request" | "manual" | "api";

export interface PlanCommitInput {
  repoDir: string;
  repoId: string;
  commitSha: string;
  trigger: Trigger;
  ref: string;
  /** PRs: the base branch's commit; manual/api: the commit to diff against. */
  baseSha?: string;
  /** Pushes: the ref's previous commit (all zeros for a new branch). */
  before?: string;
  defaultBranch: string;
  prNumber?: number;
  settingsDigest: string;
}

export interface PlanResult {
  body: PlanBody;
  planHash: string;
}

type Base = { sha: string } | { cause: FailOpenCause };

async function defaultBranchBase(repo: GitRepo, branch: string, head: string): Promise<Base> {
  if (branch.startsWith("-") || branch.includes("..")) return { cause: "base_missing" };
  const tip =
    (await repo.resolveCommit(`refs/heads/${branch}`)) ??
    (await repo.resolveCommit(`refs/remotes/origin/${branch}`));
  if (tip === null) return { cause: "base_missing" };
  const mb = await repo.mergeBase(tip, head);
  return mb === null ? { cause: "no_merge_base" } : { sha: mb };
}

/** The merge base per trigger (§6 Inputs), or the fail-open cause when it cannot be had. */
async function pickBase(repo: GitRepo, input: PlanCommitInput): Promise<Base> {
  const head = input.commitSha;
  switch (input.trigger) {
    case "pull_request": {
      if (input.baseSha === undefined) return defaultBranchBase(repo, input.defaultBranch, head);
      if (!(await repo.hasCommit(input.baseSha))) return { cause: "base_missing" };
      const mb = await repo.mergeBase(input.baseSha, head);
      return mb === null ? { cause: "no_merge_base" } : { sha: mb };
    }
    case "push": {
      const b = input.before;
      if (
        b !== undefined &&
        !ZERO_SHA.test(b) &&
        (await repo.hasCommit(b)) &&
        (await repo.isAncestor(b, head))
      )
        return { sha: b };
      return defaultBranchBase(repo, input.defaultBranch, head);
    }
    case "manual":
    case "api": {
      if (input.baseSha === undefined) return defaultBranchBase(repo, input.defaultBranch, head);
      return (await repo.hasCommit(input.baseSha)) ? { sha: input.baseSha } : { cause: "base_missing" };
    }
  }
}

async function changedFiles(repo: GitRepo, base: Base, head: string) {
  if ("cause" in base) return { changed: null, failOpen: [base.cause] };
  try {
    const changed = await repo.diffNames(base.sha, head);
    if (changed.length > MAX_CHANGED_FILES) return { changed, failOpen: ["diff_too_large" as const] };
    return { changed, failOpen: [] };
  } catch (err) {
    if (err instanceof KernelError && err.code === "planner_failure")
      return { changed: null, failOpen: ["git_diff_failed" as const] };
    throw err;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

async function readText(repo: GitRepo, oid: string, size: number, path: string): Promise<string> {
  try {
    return utf8.decode(await repo.readBlob(oid, size));
  } catch (err) {
    if (err instanceof BlobTooLarge)
      throw new KernelError("config_error", `${path} is larger than ${MAX_BLOB_BYTES} bytes`, {
        retryable: false,
      });
    if (err instanceof TypeError)
      throw new KernelError("config_error", `${path} is not valid UTF-8`, { retryable: false });
    throw err;
  }
}

/**
 * Plans one commit. Throws KernelError `config_error` (not retried), `planner_failure`
 * (git could not be read; retried) or `invalid_argument`.
 */
export async function planCommit(input: PlanCommitInput): Promise<PlanResult> {
  const repo = new GitRepo(input.repoDir);
  const head = input.commitSha;
  if (!(await repo.hasCommit(head)))
    throw new KernelError("planner_failure", "the commit is not in the clone", { retryable: true });
  const base = await pickBase(repo, input);
  const { changed, failOpen } = await changedFiles(repo, base, head);
  const tree = await repo.listFiles(head);
  const byPath = new Map(tree.map((f) => [f.path, f]));
  const texts = new Map<string, string>();
  await Promise.all(
    manifestsToRead(tree.map((f) => f.path)).map(async (path) => {
      const f = byPath.get(path);
      if (f) texts.set(path, await readText(repo, f.oid, f.size, path));
    }),
  );
  const detection = detectRecipes(
    tree.map((f) => f.path),
    (p) => texts.get(p),
  );
  const configFile = byPath.get(PIPELINE_PATH);
  let config: PipelineConfig | null = null;
  if (configFile) {
    const text = await readText(repo, configFile.oid, configFile.size, PIPELINE_PATH).catch(
      (err: unknown) => {
        if (err instanceof KernelError && err.code === "config_error")
          throw configError({ line: 1, column: 1 }, "(document)", err.message);
        throw err;
      },
    );
    config = parsePipeline(text);
  }
  return buildPlan({
    inputs: {
      repo_id: input.repoId,
      commit_sha: head,
      merge_base: "sha" in base ? base.sha : null,
      trigger: input.trigger,
      ref: input.ref,
      pr_number: input.prNumber ?? 0,
      config_blob_id: configFile?.oid ?? null,
      settings_digest: input.settingsDigest,
    },
    changed,
    failOpen,
    tree,
    detection,
    config,
  });
}

/** A human reading of a plan, one line per job in plan order (`delta plan --explain`). */
export function explainPlan(body: PlanBody): string {
  const byKey = new Map(body.jobs.map((j) => [j.key, j]));
  const lines = [
    `plan for ${body.inputs.commit_sha} (base ${body.inputs.merge_base ?? "none"}, ${body.inputs.changed_files_count ?? "?"} changed files)`,
  ];
  if (body.fail_open.length > 0) lines.push(`fail open: ${body.fail_open.join(", ")} — every job included`);
  for (const key of body.order) {
    const j = byKey.get(key);
    if (!j) continue;
    const d = j.explanation.detail;
    const why = [d.cause, d.pattern, d.project, d.patterns?.join(" "), d.jobs?.join(", "), d.files?.join(" ")]
      .filter((x) => x !== undefined && x !== "")
      .join(" · ");
    lines.push(
      `${j.decision === "include" ? "+" : "-"} ${key}  ${j.explanation.code}${why ? ` (${why})` : ""}  [${j.source.code}: ${j.source.manifest}]`,
    );
  }
  return lines.join("\n");
}
