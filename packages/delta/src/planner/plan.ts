// The planner's pure core (spec delta-ci.md §6.3): commit facts + changed files +
// detected recipes + pipeline config → canonical plan body and plan hash. Same inputs,
// same bytes: every list is sorted or kept in source order, nothing reads a clock.

import { KernelError } from "@plfm/kernel";
import { canonicalHash, compareBytes, sha256Hex } from "./canonical.ts";
import {
  affectedProjects,
  type DetectedJob,
  type Detection,
  GLOBAL_INPUTS,
  globalInputChanges,
} from "./detect.ts";
import { globMatcher } from "./glob.ts";
import type { PipelineConfig, PipelineJob } from "./pipeline.ts";
import { checkNeeds, expandMatrix } from "./pipeline-graph.ts";
import { branchOf, resolveTemplate, treeHasher } from "./templates.ts";
import type { ExplanationCode, FailOpenCause, ResolvedJobSpec, SourceCode, TreeFile } from "./types.ts";
import { configError, PIPELINE_PATH } from "./yaml-nodes.ts";

export const PLANNER_VERSION = "delta-planner/1";
export const MAX_PLAN_JOBS = 500;
const MAX_DETAIL_FILES = 5;

export interface PlanInputs {
  repo_id: string;
  commit_sha: string;
  merge_base: string | null;
  trigger: string;
  ref: string;
  pr_number: number;
  config_blob_id: string | null;
  settings_digest: string;
  planner_version: string;
  changed_files_count: number | null;
  changed_files_digest: string | null;
}

export interface Explanation {
  code: ExplanationCode;
  detail: {
    pattern?: string;
    files?: string[];
    cause?: FailOpenCause;
    jobs?: string[];
    project?: string;
    patterns?: string[];
  };
}

export interface PlanJob {
  key: string;
  name: string;
  matrix: Record<string, string>;
  source: { code: SourceCode; manifest: string };
  decision: "include" | "skip";
  explanation: Explanation;
  spec: ResolvedJobSpec;
}

export interface PlanBody {
  inputs: PlanInputs;
  fail_open: FailOpenCause[];
  concurrency: { group: string; cancel_in_progress: boolean | null } | null;
  order: string[];
  jobs: PlanJob[];
}

export interface PlanRequest {
  inputs: Omit<PlanInputs, "planner_version" | "changed_files_count" | "changed_files_digest">;
  /** Changed paths, or null when they could not be decided (then `failOpen` is non-empty). */
  changed: readonly string[] | null;
  failOpen: readonly FailOpenCause[];
  tree: readonly TreeFile[];
  detection: Detection;
  config: PipelineConfig | null;
}

interface Candidate {
  job: PlanJob;
  /** Keys this job needs (expanded). */
  needs: string[];
}

function sortBytes(xs: Iterable<string>): string[] {
  return [...new Set(xs)].sort(compareBytes);
}

/** Digest of the changed-file list: sha256 over the byte-sorted paths, each NUL-terminated. */
export function changedFilesDigest(changed: readonly string[]): string {
  return `sha256:${sha256Hex(
    sortBytes(changed)
      .map((p) => `${p}\0`)
      .join(""),
  )}`;
}

function detectedSpec(d: DetectedJob, config: PipelineConfig | null): ResolvedJobSpec {
  return {
    run: d.run,
    working_directory: d.dir === "" ? "." : d.dir,
    needs: [],
    timeout_minutes: config?.defaults.timeout_minutes ?? 60,
    runner: { labels: config?.defaults.labels ?? ["linux"], queue: "default" },
    allow_failure: false,
    retry: [],
    cache: [],
    artifacts: [],
    concurrency: null,
    env: {},
    secrets: [],
    paths: null,
  };
}

function explicitSpec(
  j: PipelineJob,
  needs: string[],
  ctx: Parameters<typeof resolveTemplate>[1],
): ResolvedJobSpec {
  const t = (s: string) => resolveTemplate(s, ctx);
  return {
    run: j.run.map(t),
    working_directory: ".",
    needs,
    timeout_minutes: j.timeout_minutes,
    runner: j.runner,
    allow_failure: j.allow_failure,
    retry: j.retry,
    cache: j.cache.map((c) => ({
      key: t(c.key),
      paths: c.paths.map(t),
      restore_keys: c.restore_keys.map(t),
    })),
    artifacts: j.artifacts.map((a) => ({ ...a, name: t(a.name), paths: a.paths.map(t) })),
    concurrency: j.concurrency ? { group: t(j.concurrency.group), limit: j.concurrency.limit } : null,
    env: Object.fromEntries(Object.entries(j.env).map(([k, v]) => [k, t(v)])),
    secrets: j.secrets,
    paths: j.paths,
  };
}

function decideExplicit(j: PipelineJob, changed: readonly string[], globals: GlobalHits): Explanation {
  if (j.paths === null) return { code: "no_path_filter", detail: {} };
  // No include list means "everything not excluded": plan more rather than never run.
  const include = j.paths.include.length > 0 ? j.paths.include : ["**"];
  const excluded = (f: string) => j.paths?.exclude.some((g) => globMatcher(g)(f)) ?? false;
  for (const pattern of include) {
    const files = changed.filter((f) => globMatcher(pattern)(f) && !excluded(f));
    if (files.length > 0)
      return { code: "paths_matched", detail: { pattern, files: files.slice(0, MAX_DETAIL_FILES) } };
  }
  if (globals) return globals;
  return { code: "paths_unmatched", detail: { patterns: include } };
}

type GlobalHits = Explanation | null;

function globalHits(patterns: readonly string[], changed: readonly string[]): GlobalHits {
  const hits = globalInputChanges(patterns, changed);
  const first = hits[0];
  if (!first) return null;
  const files = hits.filter((h) => h.pattern === first.pattern).map((h) => h.file);
  return {
    code: "global_input_changed",
    detail: { pattern: first.pattern, files: files.slice(0, MAX_DETAIL_FILES) },
  };
}

function candidates(req: PlanRequest, changed: readonly string[]): Candidate[] {
  const { config, detection } = req;
  const failOpen = req.failOpen[0];
  const globals = globalHits([...GLOBAL_INPUTS, ...(config?.global_inputs ?? [])], changed);
  const ctxBase = {
    branch: branchOf(req.inputs.ref),
    prNumber: req.inputs.pr_number,
    hash: treeHasher(req.tree),
  };
  const out = new Map<string, Candidate>();
  if (config === null || config.detect) {
    const affected = affectedProjects(detection.projects, changed);
    for (const d of detection.jobs) {
      const files = affected.get(d.project);
      const explanation: Explanation = files
        ? {
            code: "project_affected",
            detail: { pattern: d.dir === "" ? "**" : `${d.dir}/**`, files: files.slice(0, MAX_DETAIL_FILES) },
          }
        : (globals ?? { code: "project_unaffected", detail: { project: d.project } });
      out.set(d.key, {
        needs: [],
        job: {
          key: d.key,
          name: d.key,
          matrix: {},
          source: { code: "detected", manifest: d.manifest },
          decision: "include",
          explanation,
          spec: detectedSpec(d, config),
        },
      });
    }
  }
  if (config !== null) {
    checkNeeds(config, new Set(detection.jobs.map((d) => d.key)));
    const expansions = new Map(config.jobs.map((j) => [j.name, expandMatrix(j)]));
    for (const j of config.jobs) {
      const needs = sortBytes(
        j.needs.flatMap((n) => expansions.get(n.value)?.map((e) => e.key) ?? [n.value]),
      );
      const explanation = decideExplicit(j, changed, globals);
      for (const e of expansions.get(j.name) ?? []) {
        // Explicit jobs win name clashes with detected ones (§6.2).
        out.set(e.key, {
          needs,
          job: {
            key: e.key,
            name: j.name,
            matrix: e.matrix,
            source: { code: "explicit", manifest: PIPELINE_PATH },
            decision: "include",
            explanation,
            spec: explicitSpec(j, needs, { ...ctxBase, matrix: e.matrix }),
          },
        });
      }
    }
  }
  const list = [...out.values()];
  if (list.length > MAX_PLAN_JOBS) {
    const message = `the plan has ${list.length} jobs (limit ${MAX_PLAN_JOBS})`;
    throw config ? configError(config.jobsPos, "jobs", message) : new KernelError("config_error", message);
  }
  for (const c of list) {
    if (failOpen) c.job.explanation = { code: "fail_open", detail: { cause: failOpen } };
    const skip =
      c.job.explanation.code === "paths_unmatched" || c.job.explanation.code === "project_unaffected";
    c.job.decision = skip ? "skip" : "include";
  }
  return list;
}

/** Included jobs pull in their transitive needs, explained as `required_by`. */
function pullInNeeds(list: Candidate[]): void {
  const byKey = new Map(list.map((c) => [c.job.key, c]));
  const queue = list.filter((c) => c.job.decision === "include");
  const requiredBy = new Map<string, Set<string>>();
  while (queue.length > 0) {
    const c = queue.pop() as Candidate;
    for (const n of c.needs) {
      const dep = byKey.get(n);
      if (!dep || (dep.job.explanation.code !== "required_by" && dep.job.decision === "include")) continue;
      const by = requiredBy.get(n) ?? new Set<string>();
      requiredBy.set(n, by);
      by.add(c.job.key);
      if (dep.job.decision === "skip") {
        dep.job.decision = "include";
        dep.job.explanation = { code: "required_by", detail: {} };
        queue.push(dep);
      }
    }
  }
  for (const [key, by] of requiredBy) {
    const c = byKey.get(key);
    if (c && c.job.explanation.code === "required_by") c.job.explanation.detail = { jobs: sortBytes(by) };
  }
}

/** Kahn's algorithm; among ready jobs the smallest key (UTF-8 byte order) goes first. */
export function topologicalOrder(jobs: readonly { key: string; needs: readonly string[] }[]): string[] {
  const keys = new Set(jobs.map((j) => j.key));
  const indegree = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const j of jobs) {
    const needs = j.needs.filter((n) => keys.has(n));
    indegree.set(j.key, needs.length);
    for (const n of needs) dependents.set(n, [...(dependents.get(n) ?? []), j.key]);
  }
  const ready = [...keys].filter((k) => indegree.get(k) === 0).sort(compareBytes);
  const order: string[] = [];
  while (ready.length > 0) {
    const k = ready.shift() as string;
    order.push(k);
    for (const d of dependents.get(k) ?? []) {
      const left = (indegree.get(d) ?? 0) - 1;
      indegree.set(d, left);
      if (left === 0) {
        const at = ready.findIndex((r) => compareBytes(r, d) > 0);
        ready.splice(at < 0 ? ready.length : at, 0, d);
      }
    }
  }
  // checkNeeds() refuses cycles, so every job is placed; this guards the invariant.
  if (order.length !== keys.size) throw new KernelError("internal", "plan graph has a cycle");
  return order;
}

/** Builds the canonical plan body and its hash. Throws KernelError `config_error`. */
export function buildPlan(req: PlanRequest): { body: PlanBody; planHash: string } {
  const changed = sortBytes(req.changed ?? []);
  const list = candidates(req, req.failOpen.length > 0 ? [] : changed);
  pullInNeeds(list);
  const ctx = {
    branch: branchOf(req.inputs.ref),
    prNumber: req.inputs.pr_number,
    matrix: {},
    hash: treeHasher(req.tree),
  };
  const c = req.config?.concurrency;
  const body: PlanBody = {
    inputs: {
      ...req.inputs,
      planner_version: PLANNER_VERSION,
      changed_files_count: req.changed === null ? null : changed.length,
      changed_files_digest: req.changed === null ? null : changedFilesDigest(changed),
    },
    fail_open: sortBytes(req.failOpen) as FailOpenCause[],
    concurrency: c
      ? { group: resolveTemplate(c.group, ctx), cancel_in_progress: c.cancel_in_progress }
      : null,
    order: topologicalOrder(list.map((x) => ({ key: x.job.key, needs: x.needs }))),
    jobs: list.map((x) => x.job).sort((a, b) => compareBytes(a.key, b.key)),
  };
  return { body, planHash: canonicalHash(body) };
}
