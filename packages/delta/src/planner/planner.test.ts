// The planner end to end on a real git repository: jobs picked by paths and recipes,
// every skip explained, fail-open causes, and the same plan hash for the same inputs.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { access } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { isKernelError } from "@plfm/kernel";
import { canonicalJson } from "./canonical.ts";
import type { PlanBody, PlanJob } from "./plan.ts";
import { explainPlan, type PlanCommitInput, planCommit } from "./planner.ts";
import { createTestRepo, type TestRepo } from "./test-repo.ts";

const PIPELINE = `version: 1
detect: true
jobs:
  - name: docs
    run: [make docs]
    paths:
      include: ["docs/**"]
  - name: preview
    run: ["echo \${{ branch }} \${{ pr_number }}"]
    needs: [docs]
    paths:
      include: ["web/**"]
      exclude: ["web/**/*.md"]
  - name: unit
    run: ["node --test"]
    matrix:
      node: [18, 20]
    cache:
      - key: "npm-\${{ matrix.node }}-\${{ hash('**/package-lock.json') }}"
        paths: [.npm]
`;

const scripts = JSON.stringify({ scripts: { lint: "biome check", build: "tsc", test: "node --test" } });

let repo: TestRepo;
let main: string;
const sha = { api: "", web: "", nvmrc: "", orphan: "", badconfig: "" };

before(async () => {
  repo = await createTestRepo();
  main = await repo.commit("base", {
    "package.json": scripts,
    "package-lock.json": "{}",
    "services/api/go.mod": "module example.com/api\n",
    "services/api/main.go": "package main\n",
    "web/package.json": scripts,
    // The Makefile's test target must win over the script; its recipe would leave a marker if run.
    "web/Makefile": "test:\n\ttouch ../make-ran\n",
    "web/src/app.ts": "export {};\n",
    "docs/index.md": "# docs\n",
    ".delta/pipeline.yml": PIPELINE,
  });
  await repo.git("checkout", "-q", "-b", "feature");
  sha.api = await repo.commit("api change", { "services/api/handler.go": "package main\n" });
  sha.web = await repo.commit("web change", {
    "web/src/app.ts": "export const x = 1;\n",
    "web/README.md": "x",
  });
  await repo.git("checkout", "-q", "-b", "global", main);
  sha.nvmrc = await repo.commit("node version", { ".nvmrc": "20\n" });
  await repo.git("checkout", "-q", "--orphan", "unrelated");
  sha.orphan = await repo.commit("unrelated history", { "x.txt": "x" });
  await repo.git("checkout", "-q", "-b", "badconfig", main);
  sha.badconfig = await repo.commit("bad config", {
    ".delta/pipeline.yml": "version: 1\njobs:\n  - name: a\n    run: [x]\n    neds: [b]\n",
  });
  await repo.git("checkout", "-q", "main");
  // Would run on any command that consults the index; the planner must not trigger it.
  await repo.git("config", "core.fsmonitor", `touch ${join(repo.dir, "fsmonitor-ran")}`);
});

after(() => repo.cleanup());

/** Test defaults with overrides; an override of `undefined` removes the field. */
function input(over: { [K in keyof PlanCommitInput]?: PlanCommitInput[K] | undefined }): PlanCommitInput {
  const merged: Record<string, unknown> = {
    repoDir: repo.dir,
    repoId: "repo_01HZZZZZZZZZZZZZZZZZZZZZZZ",
    commitSha: main,
    trigger: "pull_request",
    ref: "refs/pull/7/head",
    baseSha: main,
    defaultBranch: "main",
    prNumber: 7,
    settingsDigest: "sha256:settings",
    ...over,
  };
  for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k];
  return merged as unknown as PlanCommitInput;
}

function byKey(body: PlanBody): Map<string, PlanJob> {
  return new Map(body.jobs.map((j) => [j.key, j]));
}

function decisions(body: PlanBody): Record<string, string> {
  return Object.fromEntries(body.jobs.map((j) => [j.key, `${j.decision}:${j.explanation.code}`]));
}

test("a Go change runs the Go project and its ancestor, and explains every skip", async () => {
  const { body } = await planCommit(input({ commitSha: sha.api }));
  assert.equal(body.inputs.merge_base, main);
  assert.equal(body.inputs.changed_files_count, 1);
  assert.deepEqual(body.fail_open, []);
  assert.deepEqual(decisions(body), {
    docs: "skip:paths_unmatched",
    preview: "skip:paths_unmatched",
    "root:build": "include:project_affected",
    "root:lint": "include:project_affected",
    "root:test": "include:project_affected",
    "services/api:build": "include:project_affected",
    "services/api:lint": "include:project_affected",
    "services/api:test": "include:project_affected",
    "unit (node=18)": "include:no_path_filter",
    "unit (node=20)": "include:no_path_filter",
    "web:build": "skip:project_unaffected",
    "web:lint": "skip:project_unaffected",
    "web:test": "skip:project_unaffected",
  });
  const jobs = byKey(body);
  assert.deepEqual(jobs.get("services/api:test")?.explanation.detail, {
    pattern: "services/api/**",
    files: ["services/api/handler.go"],
  });
  assert.deepEqual(jobs.get("services/api:test")?.spec.run, ["go test ./..."]);
  assert.deepEqual(jobs.get("services/api:test")?.source, {
    code: "detected",
    manifest: "services/api/go.mod",
  });
  assert.deepEqual(jobs.get("docs")?.explanation, {
    code: "paths_unmatched",
    detail: { patterns: ["docs/**"] },
  });
  assert.deepEqual(jobs.get("web:lint")?.explanation.detail, { project: "web" });
  for (const j of body.jobs) assert.ok(j.explanation.code && j.source.code, `${j.key} is explained`);
});

test("a web change picks recipes by precedence, matches paths and pulls in needs as required_by", async () => {
  const { body } = await planCommit(input({ commitSha: sha.web }));
  const jobs = byKey(body);
  assert.equal(body.inputs.changed_files_count, 3);
  assert.deepEqual(jobs.get("web:test")?.spec.run, ["make test"], "the Makefile target overrides the script");
  assert.deepEqual(
    jobs.get("web:build")?.spec.run,
    ["npm ci", "npm run build"],
    "the root lockfile picks npm",
  );
  assert.equal(jobs.get("web:build")?.spec.working_directory, "web");
  assert.equal(jobs.get("web:test")?.decision, "include");
  assert.deepEqual(jobs.get("preview")?.explanation, {
    code: "paths_matched",
    detail: { pattern: "web/**", files: ["web/src/app.ts"] }, // web/README.md is excluded
  });
  assert.deepEqual(jobs.get("preview")?.spec.run, ["echo refs/pull/7/head 7"]);
  assert.deepEqual(jobs.get("docs")?.explanation, { code: "required_by", detail: { jobs: ["preview"] } });
  assert.equal(jobs.get("docs")?.decision, "include");
  // The branch also holds the api commit, so against the merge base that project is affected too.
  assert.deepEqual(jobs.get("services/api:test")?.explanation.detail.files, ["services/api/handler.go"]);
  const order = body.order;
  assert.ok(order.indexOf("docs") < order.indexOf("preview"), "needs come first");
  const cacheKey = jobs.get("unit (node=20)")?.spec.cache[0]?.key ?? "";
  assert.match(cacheKey, /^npm-20-[0-9a-f]{64}$/);
  assert.match(explainPlan(body), /\+ docs {2}required_by \(preview\)/);
  await assert.rejects(access(join(repo.dir, "make-ran")), "make never runs");
  await assert.rejects(access(join(repo.dir, "fsmonitor-ran")), "no repository-configured command runs");
});

test("a global input change includes every job", async () => {
  const { body } = await planCommit(input({ commitSha: sha.nvmrc }));
  for (const j of body.jobs) {
    assert.equal(j.decision, "include", j.key);
    if (j.key.startsWith("unit")) assert.equal(j.explanation.code, "no_path_filter");
    else if (j.key.startsWith("root:")) assert.equal(j.explanation.code, "project_affected", "a root file");
    else
      assert.deepEqual(j.explanation, {
        code: "global_input_changed",
        detail: { pattern: ".nvmrc", files: [".nvmrc"] },
      });
  }
});

test("the same inputs give the same bytes and plan hash; a different commit does not", async () => {
  const a = await planCommit(input({ commitSha: sha.web }));
  const b = await planCommit(input({ commitSha: sha.web }));
  assert.match(a.planHash, /^sha256:[0-9a-f]{64}$/);
  assert.equal(a.planHash, b.planHash);
  assert.equal(canonicalJson(a.body), canonicalJson(b.body));
  const c = await planCommit(input({ commitSha: sha.api }));
  assert.notEqual(c.planHash, a.planHash);
  const d = await planCommit(input({ commitSha: sha.web, settingsDigest: "sha256:other" }));
  assert.notEqual(d.planHash, a.planHash, "repository settings are an input");
});

test("a bare clone plans the same as the working repository", async () => {
  const bare = `${repo.dir}-bare.git`;
  await promisify(execFile)("git", ["clone", "-q", "--bare", repo.dir, bare]);
  const a = await planCommit(input({ commitSha: sha.web }));
  const b = await planCommit(input({ commitSha: sha.web, repoDir: bare }));
  assert.equal(b.planHash, a.planHash);
});

test("pushes diff against `before` when it is an ancestor, else against the default branch", async () => {
  const push = { trigger: "push" as const, ref: "refs/heads/feature", prNumber: 0 };
  const p1 = await planCommit(input({ ...push, commitSha: sha.web, before: sha.api, baseSha: undefined }));
  assert.equal(p1.body.inputs.merge_base, sha.api);
  assert.equal(p1.body.inputs.changed_files_count, 2);
  const zero = "0".repeat(40);
  const p2 = await planCommit(input({ ...push, commitSha: sha.web, before: zero, baseSha: undefined }));
  assert.equal(p2.body.inputs.merge_base, main);
  const p3 = await planCommit(input({ ...push, commitSha: sha.web, before: sha.nvmrc, baseSha: undefined }));
  assert.equal(
    p3.body.inputs.merge_base,
    main,
    "a before that is not an ancestor falls back to the default branch",
  );
});

test("undecidable relevance fails open: every job included with its cause", async () => {
  const noBase = await planCommit(input({ commitSha: sha.orphan }));
  assert.deepEqual(noBase.body.fail_open, ["no_merge_base"]);
  assert.equal(noBase.body.inputs.merge_base, null);
  assert.equal(noBase.body.inputs.changed_files_count, null);
  const missing = await planCommit(input({ commitSha: sha.api, baseSha: "1".repeat(40) }));
  assert.deepEqual(missing.body.fail_open, ["base_missing"]);
  for (const j of missing.body.jobs) {
    assert.equal(j.decision, "include");
    assert.deepEqual(j.explanation, { code: "fail_open", detail: { cause: "base_missing" } });
  }
  const noBranch = await planCommit(input({ trigger: "manual", baseSha: undefined, defaultBranch: "trunk" }));
  assert.deepEqual(noBranch.body.fail_open, ["base_missing"]);
});

test("an invalid pipeline.yml at the commit is a config_error with line and column", async () => {
  await assert.rejects(planCommit(input({ commitSha: sha.badconfig })), (err) => {
    assert.ok(isKernelError(err, "config_error"));
    assert.equal(err.extra?.line, 5);
    assert.equal(err.extra?.column, 5);
    assert.match(err.message, /unknown key 'neds'/);
    return true;
  });
});

test("a commit missing from the clone is a retryable planner_failure; a non-sha is refused", async () => {
  await assert.rejects(planCommit(input({ commitSha: "2".repeat(40) })), (err) => {
    assert.ok(isKernelError(err, "planner_failure"));
    assert.equal(err.retryable, true);
    return true;
  });
  await assert.rejects(planCommit(input({ commitSha: "--output=/tmp/x" })), (err) =>
    isKernelError(err, "invalid_argument"),
  );
});
