// Properties of the pure core over generated pipelines: the body is canonical JSON,
// the order is the byte-smallest valid topological order, every job is explained,
// needs of included jobs are included, and input order never changes the hash.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { canonicalJson, compareBytes } from "./canonical.ts";
import { detectRecipes } from "./detect.ts";
import { parsePipeline } from "./pipeline.ts";
import { buildPlan, type PlanRequest } from "./plan.ts";

const GLOBS = ["src/**", "docs/*.md", "{web,api}/**", "**/*.go", "lib/?.ts"];
const FILES = [
  "src/a.ts",
  "src/x/b.ts",
  "docs/r.md",
  "web/i.ts",
  "api/h.go",
  "lib/c.ts",
  "README.md",
  ".nvmrc",
];

const jobArb = fc.record({
  name: fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,6}$/),
  needs: fc.array(fc.nat(), { maxLength: 3 }),
  include: fc.option(fc.subarray(GLOBS, { minLength: 1 }), { nil: null }),
  matrix: fc.option(fc.uniqueArray(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 3 }), {
    nil: null,
  }),
});

const scenario = fc.record({
  jobs: fc.uniqueArray(jobArb, { minLength: 1, maxLength: 12, selector: (j) => j.name }),
  changed: fc.option(fc.subarray(FILES), { nil: null }),
  detect: fc.boolean(),
  seed: fc.integer(),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

/** Needs only point at earlier jobs, so the generated graph is acyclic by construction. */
function pipelineYaml(s: Scenario): string {
  const lines = ["version: 1", `detect: ${s.detect}`, "jobs:"];
  s.jobs.forEach((j, i) => {
    lines.push(`  - name: "${j.name}"`, "    run: [make]");
    const needs = i === 0 ? [] : [...new Set(j.needs.map((n) => s.jobs[n % i]?.name))];
    if (needs.length > 0) lines.push(`    needs: [${needs.map((n) => `"${n}"`).join(", ")}]`);
    if (j.include) lines.push(`    paths: {include: [${j.include.map((g) => `"${g}"`).join(", ")}]}`);
    if (j.matrix) lines.push(`    matrix: {v: [${j.matrix.join(", ")}]}`);
  });
  return lines.join("\n");
}

function request(s: Scenario, changed: readonly string[] | null): PlanRequest {
  const paths = ["package.json", "web/go.mod", ...FILES];
  return {
    inputs: {
      repo_id: "repo_x",
      commit_sha: "a".repeat(40),
      merge_base: changed ? "b".repeat(40) : null,
      trigger: "push",
      ref: "refs/heads/main",
      pr_number: 0,
      config_blob_id: "c".repeat(40),
      settings_digest: "sha256:s",
    },
    changed,
    failOpen: changed ? [] : ["no_merge_base"],
    tree: paths.map((p, i) => ({ path: p, oid: String(i).padStart(40, "0"), size: 1 })),
    detection: detectRecipes(paths, () => JSON.stringify({ scripts: { test: "t" } })),
    config: parsePipeline(pipelineYaml(s)),
  };
}

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let x = seed | 1;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

test("plans are canonical, explained, closed under needs and topologically ordered", () => {
  fc.assert(
    fc.property(scenario, (s) => {
      const { body, planHash } = buildPlan(request(s, s.changed));
      const bytes = canonicalJson(body);
      assert.equal(canonicalJson(JSON.parse(bytes)), bytes, "parse → canonical gives the same bytes");
      assert.match(planHash, /^sha256:[0-9a-f]{64}$/);

      const jobs = new Map(body.jobs.map((j) => [j.key, j]));
      assert.equal(jobs.size, body.jobs.length, "job keys are unique");
      assert.deepEqual([...body.order].sort(compareBytes), [...jobs.keys()].sort(compareBytes));
      for (const j of body.jobs) {
        assert.ok(j.explanation.code.length > 0 && j.source.manifest.length > 0);
        const skipCodes = ["paths_unmatched", "project_unaffected"];
        assert.equal(j.decision === "skip", skipCodes.includes(j.explanation.code), j.key);
        if (body.fail_open.length > 0) assert.equal(j.explanation.code, "fail_open");
        if (j.decision === "include")
          for (const n of j.spec.needs) assert.equal(jobs.get(n)?.decision, "include", `${j.key} needs ${n}`);
      }
      // The order is the one Kahn's algorithm gives when it always takes the byte-smallest ready key.
      const placed = new Set<string>();
      for (const key of body.order) {
        const ready = body.jobs
          .filter((j) => !placed.has(j.key) && j.spec.needs.every((n) => placed.has(n)))
          .map((j) => j.key)
          .sort(compareBytes);
        assert.equal(key, ready[0]);
        placed.add(key);
      }

      if (s.changed) {
        const again = buildPlan(request(s, shuffled(s.changed, s.seed)));
        assert.equal(again.planHash, planHash, "changed-file order does not matter");
      }
    }),
    { numRuns: 150 },
  );
});

test("canonical JSON sorts keys by code point and refuses non-integers", () => {
  assert.equal(
    canonicalJson({ b: 1, a: [true, null, "x"], "\u{1F600}": 0, "\uFFFF": 0 }),
    '{"a":[true,null,"x"],"b":1,"\uFFFF":0,"\u{1F600}":0}',
  );
  assert.throws(() => canonicalJson({ x: 1.5 }), /integers only/);
  assert.throws(() => canonicalJson({ x: Number.NaN }), /integers only/);
  assert.throws(() => canonicalJson({ x: -0 }), /integers only/);
  assert.throws(() => canonicalJson({ x: undefined }), /cannot encode/);
});
