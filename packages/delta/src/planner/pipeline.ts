// `.delta/pipeline.yml` (spec delta-ci.md §6.2), parsed strictly: unknown keys, wrong
// types, bad templates and exceeded limits are a config_error with line and column.
// Graph checks (needs that exist, cycles) live in pipeline-graph.ts because needs may
// name detected jobs, which are known only after detection.

import { globProblem } from "./glob.ts";
import { templateProblem } from "./templates.ts";
import type { ArtifactSpec, RetryRule } from "./types.ts";
import { type At, type Pos, readYaml } from "./yaml-nodes.ts";

export const MAX_MATRIX_COMBINATIONS = 64;
const NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const MATRIX_KEY = /^[A-Za-z0-9_-]{1,64}$/;
const RETRY_CLASSES = ["infra", "flake", "user", "unknown"];
const WHEN = ["always", "on_success", "on_failure"] as const;

export interface Located {
  value: string;
  pos: Pos;
  path: string;
}

export interface PipelineJob {
  name: string;
  pos: Pos;
  path: string;
  run: string[];
  needs: Located[];
  paths: { include: string[]; exclude: string[] } | null;
  /** Keys in source order, values as written. */
  matrix: { key: string; values: string[] }[];
  matrixExclude: Record<string, string>[];
  timeout_minutes: number;
  allow_failure: boolean | { exit_status: number[] };
  retry: RetryRule[];
  cache: { key: string; paths: string[]; restore_keys: string[] }[];
  artifacts: ArtifactSpec[];
  concurrency: { group: string; limit: number } | null;
  runner: { labels: string[]; queue: string };
  env: Record<string, string>;
  secrets: string[];
}

export interface PipelineConfig {
  detect: boolean;
  defaults: { timeout_minutes: number; labels: string[] };
  concurrency: { group: string; cancel_in_progress: boolean | null } | null;
  global_inputs: string[];
  jobs: PipelineJob[];
  /** Where `jobs` is (or the document start): limits on the whole plan point here. */
  jobsPos: Pos;
}

const TOP = ["version", "detect", "defaults", "concurrency", "global_inputs", "jobs"];
const JOB = [
  "name",
  "run",
  "needs",
  "paths",
  "matrix",
  "matrix_exclude",
  "timeout_minutes",
  "allow_failure",
  "retry",
  "cache",
  "artifacts",
  "concurrency",
  "runner",
  "env",
  "secrets",
];

function globs(at: At): string[] {
  return at.list().map((i) => {
    const g = i.string();
    const p = globProblem(g);
    if (p) i.fail(p);
    return g;
  });
}

/** A string that may hold templates, checked against the job's matrix keys. */
function templated(at: At, keys: ReadonlySet<string>): string {
  const s = at.string();
  const p = templateProblem(s, keys);
  if (p) at.fail(p);
  return s;
}

function templatedList(at: At, keys: ReadonlySet<string>, min = 0): string[] {
  const items = at.list();
  if (items.length < min) at.fail(`needs at least ${min} item(s)`);
  return items.map((i) => templated(i, keys));
}

function exitStatuses(at: At): number[] {
  return at.list().map((i) => i.int(0, 255));
}

/** Parses and type-checks pipeline.yml; throws KernelError `config_error`. */
export function parsePipeline(text: string): PipelineConfig {
  const root = readYaml(text);
  if (!root.isMap()) root.fail("the file must be a mapping with 'version: 1'");
  const top = root.object(TOP, ["version"]);
  const version = top.get("version");
  if (version && version.int(1, 1) !== 1) version.fail("version must be 1");
  const d = top.get("defaults")?.object(["timeout_minutes", "runner"]);
  const defaults = {
    timeout_minutes: d?.get("timeout_minutes")?.int(1, 1440) ?? 60,
    labels: d?.get("runner")?.object(["labels"]).get("labels")?.stringList({ min: 1 }) ?? ["linux"],
  };
  const c = top.get("concurrency")?.object(["group", "cancel_in_progress"], ["group"]);
  const concurrency = c
    ? {
        group: templated(c.get("group") as At, new Set()),
        cancel_in_progress: c.get("cancel_in_progress")?.bool() ?? null,
      }
    : null;
  const jobsAt = top.get("jobs");
  const jobs = (jobsAt?.list() ?? []).map((j) => parseJob(j, defaults));
  const seen = new Map<string, PipelineJob>();
  for (const j of jobs) {
    if (seen.has(j.name)) jobsAt?.list()[jobs.indexOf(j)]?.fail(`job name '${j.name}' is used twice`);
    seen.set(j.name, j);
  }
  return {
    detect: top.get("detect")?.bool() ?? false,
    defaults,
    concurrency,
    global_inputs: top.has("global_inputs") ? globs(top.get("global_inputs") as At) : [],
    jobs,
    jobsPos: jobsAt?.pos ?? root.pos,
  };
}

function parseMatrix(at: At | undefined): PipelineJob["matrix"] {
  if (!at) return [];
  const out = at.entries().map((e) => {
    if (!MATRIX_KEY.test(e.key)) e.keyAt.fail("matrix keys are letters, digits, '_' or '-'");
    const values = e.value.list().map((v) => v.scalarText());
    if (values.length === 0) e.value.fail("a matrix key needs at least one value");
    if (new Set(values).size !== values.length) e.value.fail("matrix values must be distinct");
    return { key: e.key, values };
  });
  if (out.length === 0) at.fail("matrix needs at least one key");
  return out;
}

function parseJob(at: At, defaults: PipelineConfig["defaults"]): PipelineJob {
  const f = at.object(JOB, ["name", "run"]);
  const nameAt = f.get("name") as At;
  const name = nameAt.string();
  if (!NAME.test(name)) nameAt.fail("job names match ^[a-z0-9][a-z0-9_.-]{0,62}$");
  const matrix = parseMatrix(f.get("matrix"));
  const keys = new Set(matrix.map((m) => m.key));
  const matrixExclude = (f.get("matrix_exclude")?.list() ?? []).map((x) => {
    const rec: Record<string, string> = {};
    for (const e of x.entries()) {
      const m = matrix.find((k) => k.key === e.key);
      if (!m) e.keyAt.fail(`'${e.key}' is not a matrix key of this job`);
      rec[e.key] = e.value.scalarText();
    }
    return rec;
  });
  let combos = 1;
  for (const m of matrix) combos *= m.values.length;
  // The §6.3 limit counts expansions; the raw product is bounded too so a huge matrix
  // is refused before anything enumerates it.
  if (combos > MAX_MATRIX_COMBINATIONS * 64)
    (f.get("matrix") as At).fail(`matrix has ${combos} combinations (limit ${MAX_MATRIX_COMBINATIONS})`);
  const p = f.get("paths")?.object(["include", "exclude"]);
  const af = f.get("allow_failure");
  const runner = f.get("runner")?.object(["labels", "queue"]);
  const conc = f.get("concurrency")?.object(["group", "limit"], ["group"]);
  return {
    name,
    pos: at.pos,
    path: at.path,
    run: templatedList(f.get("run") as At, keys, 1),
    needs: (f.get("needs")?.list() ?? []).map((n) => ({ value: n.string(), pos: n.pos, path: n.path })),
    paths: p
      ? {
          include: p.has("include") ? globs(p.get("include") as At) : [],
          exclude: p.has("exclude") ? globs(p.get("exclude") as At) : [],
        }
      : null,
    matrix,
    matrixExclude,
    timeout_minutes: f.get("timeout_minutes")?.int(1, 1440) ?? defaults.timeout_minutes,
    allow_failure: !af
      ? false
      : af.isScalar()
        ? af.bool()
        : { exit_status: exitStatuses(af.object(["exit_status"], ["exit_status"]).get("exit_status") as At) },
    retry: (f.get("retry")?.list() ?? []).map(parseRetry),
    cache: (f.get("cache")?.list() ?? []).map((x) => {
      const o = x.object(["key", "paths", "restore_keys"], ["key", "paths"]);
      return {
        key: templated(o.get("key") as At, keys),
        paths: templatedList(o.get("paths") as At, keys, 1),
        restore_keys: o.has("restore_keys") ? templatedList(o.get("restore_keys") as At, keys) : [],
      };
    }),
    artifacts: (f.get("artifacts")?.list() ?? []).map((x) => parseArtifact(x, keys)),
    concurrency: conc
      ? { group: templated(conc.get("group") as At, keys), limit: conc.get("limit")?.int(1, 1000) ?? 1 }
      : null,
    runner: {
      labels: runner?.get("labels")?.stringList({ min: 1 }) ?? defaults.labels,
      queue: runner?.get("queue")?.string() ?? "default",
    },
    env: Object.fromEntries((f.get("env")?.entries() ?? []).map((e) => [e.key, templated(e.value, keys)])),
    secrets: (f.get("secrets")?.list() ?? []).map((s) => {
      const v = s.string();
      if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(v)) s.fail("secret names are letters, digits and '_'");
      return v;
    }),
  };
}

function parseRetry(at: At): RetryRule {
  const o = at.object(["exit_status", "reason", "class", "limit"], ["limit"]);
  const es = o.get("exit_status");
  let exit_status: RetryRule["exit_status"] = null;
  if (es) {
    if (es.isScalar()) {
      if (es.string() !== "*") es.fail('exit_status is a list of integers or "*"');
      exit_status = "*";
    } else exit_status = exitStatuses(es);
  }
  const cls = o.get("class");
  const klass = cls ? cls.string() : null;
  if (cls && !RETRY_CLASSES.includes(klass ?? "")) cls.fail(`class is one of ${RETRY_CLASSES.join(", ")}`);
  return {
    exit_status,
    reason: o.get("reason")?.stringList() ?? [],
    class: klass,
    limit: (o.get("limit") as At).int(0, 10),
  };
}

function parseArtifact(at: At, keys: ReadonlySet<string>): ArtifactSpec {
  const o = at.object(["name", "paths", "when", "expire_days", "reports"], ["name", "paths"]);
  const whenAt = o.get("when");
  const when = whenAt ? whenAt.string() : "on_success";
  if (!(WHEN as readonly string[]).includes(when)) whenAt?.fail(`when is one of ${WHEN.join(", ")}`);
  const rep = o.get("reports");
  if (rep && rep.string() !== "junit") rep.fail("reports is 'junit'");
  return {
    name: templated(o.get("name") as At, keys),
    paths: templatedList(o.get("paths") as At, keys, 1),
    when: when as ArtifactSpec["when"],
    expire_days: o.get("expire_days")?.int(1, 365) ?? 7,
    reports: rep ? "junit" : null,
  };
}
