// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are pipeline.yml templates, not JS.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isKernelError } from "@plfm/kernel";
import { parsePipeline } from "./pipeline.ts";
import { checkNeeds, expandMatrix } from "./pipeline-graph.ts";

/** Asserts a config_error at the given line and column whose message matches. */
function configErrorAt(fn: () => unknown, line: number, column: number, message: RegExp): void {
  assert.throws(fn, (err) => {
    assert.ok(isKernelError(err, "config_error"), `expected config_error, got ${String(err)}`);
    assert.equal(err.retryable, false);
    assert.deepEqual({ line: err.extra?.line, column: err.extra?.column }, { line, column }, err.message);
    assert.match(err.message, message);
    assert.match(err.message, new RegExp(`^\\.delta/pipeline\\.yml:${line}:${column}: `));
    return true;
  });
}

const graph = (text: string, detected: string[] = []) => {
  const c = parsePipeline(text);
  checkNeeds(c, new Set(detected));
  return c;
};

test("a valid file parses with defaults applied and scalars typed strictly", () => {
  const c = parsePipeline(
    [
      "version: 1",
      "defaults: {timeout_minutes: 30, runner: {labels: [linux, big]}}",
      "jobs:",
      "  - name: test",
      "    run: [npm test]",
      "    env: {ON: on, N: 3.10}",
      "    allow_failure: {exit_status: [3]}",
      "    retry: [{exit_status: '*', class: flake, limit: 2}]",
      "    artifacts: [{name: junit, paths: [out/*.xml], reports: junit}]",
    ].join("\n"),
  );
  const j = c.jobs[0];
  assert.ok(j);
  assert.equal(c.detect, false);
  assert.equal(j.timeout_minutes, 30);
  assert.deepEqual(j.runner, { labels: ["linux", "big"], queue: "default" });
  assert.deepEqual(j.env, { ON: "on", N: "3.10" }, "YAML 1.1 booleans and floats stay the text written");
  assert.deepEqual(j.allow_failure, { exit_status: [3] });
  assert.deepEqual(j.retry, [{ exit_status: "*", reason: [], class: "flake", limit: 2 }]);
  assert.deepEqual(j.artifacts, [
    { name: "junit", paths: ["out/*.xml"], when: "on_success", expire_days: 7, reports: "junit" },
  ]);
});

test("unknown keys, wrong types and missing fields carry line and column", () => {
  configErrorAt(
    () => parsePipeline("version: 1\njobs:\n  - name: a\n    run: [x]\n    rnu: [y]\n"),
    5,
    5,
    /unknown key 'rnu'/,
  );
  configErrorAt(() => parsePipeline("version: 1\nbogus: true\n"), 2, 1, /unknown key 'bogus'/);
  configErrorAt(() => parsePipeline("version: 2\n"), 1, 10, /from 1 to 1/);
  configErrorAt(() => parsePipeline("detect: true\n"), 1, 1, /'version' is required/);
  configErrorAt(() => parsePipeline("version: 1\ndetect: yes\n"), 2, 9, /true or false/);
  configErrorAt(
    () => parsePipeline("version: 1\njobs:\n  - name: a\n    run: [x]\n    timeout_minutes: 2000\n"),
    5,
    22,
    /1 to 1440/,
  );
  configErrorAt(
    () => parsePipeline("version: 1\njobs:\n  - name: Bad_Name\n    run: [x]\n"),
    3,
    11,
    /job names/,
  );
  configErrorAt(() => parsePipeline("version: 1\njobs:\n  - name: a\n"), 3, 5, /'run' is required/);
  configErrorAt(() => parsePipeline("version: 1\njobs:\n  - name: a\n    run: []\n"), 4, 10, /at least 1/);
  configErrorAt(
    () => parsePipeline("version: 1\njobs:\n  - {name: a, run: [x]}\n  - {name: a, run: [y]}\n"),
    4,
    5,
    /used twice/,
  );
  configErrorAt(() => parsePipeline("version: 1\nversion: 1\n"), 2, 1, /unique|duplicate/i);
  configErrorAt(() => parsePipeline("version: 1\njobs: [\n"), 3, 1, /.+/);
  configErrorAt(() => parsePipeline("version: 1\nx: &a [1]\ny: *a\n"), 3, 4, /aliases are not supported/);
  configErrorAt(
    () => parsePipeline("version: 1\njobs:\n  - name: a\n    run: &r [x]\n  - name: b\n    run: *r\n"),
    6,
    10,
    /aliases/,
  );
});

test("templates are checked at parse time", () => {
  configErrorAt(
    () => parsePipeline("version: 1\njobs:\n  - name: a\n    run: ['echo ${{ secrets.X }}']\n"),
    4,
    11,
    /unknown template expression 'secrets.X'/,
  );
  configErrorAt(
    () => parsePipeline("version: 1\njobs:\n  - name: a\n    run: ['echo ${{ matrix.os }}']\n"),
    4,
    11,
    /names no key/,
  );
  configErrorAt(
    () => parsePipeline("version: 1\njobs:\n  - name: a\n    run: ['echo ${{ branch']\n"),
    4,
    11,
    /unterminated/,
  );
  parsePipeline(
    "version: 1\njobs:\n  - name: a\n    matrix: {os: [x]}\n    run: [\"${{ branch }}${{pr_number}}${{ matrix.os }}${{ hash('**/*.lock') }}\"]\n",
  );
});

test("needs that name no job, and cycles, are refused at the need", () => {
  configErrorAt(
    () => graph("version: 1\njobs:\n  - name: a\n    run: [x]\n    needs: [b]\n"),
    5,
    13,
    /needs 'b', which is not a job/,
  );
  configErrorAt(
    () => graph("version: 1\njobs:\n  - name: a\n    run: [x]\n    needs: [root:test]\n", ["root:test"]),
    5,
    13,
    /detect: true/,
  );
  graph("version: 1\ndetect: true\njobs:\n  - name: a\n    run: [x]\n    needs: [root:test]\n", [
    "root:test",
  ]);
  configErrorAt(
    () =>
      graph(
        "version: 1\njobs:\n  - {name: a, run: [x], needs: [b]}\n  - {name: b, run: [x], needs: [c]}\n  - {name: c, run: [x], needs: [a]}\n",
      ),
    5,
    33,
    /cycle: a → b → c → a/,
  );
  configErrorAt(
    () => graph("version: 1\njobs:\n  - {name: a, run: [x], needs: [a]}\n"),
    3,
    33,
    /cycle: a → a/,
  );
});

test("matrix expansion: product in source order, less matrix_exclude, job keys name the values", () => {
  const c = parsePipeline(
    [
      "version: 1",
      "jobs:",
      "  - name: test",
      "    run: [x]",
      "    matrix: {node: [18, 20], os: [linux, mac]}",
      "    matrix_exclude: [{node: 18, os: mac}]",
    ].join("\n"),
  );
  const job = c.jobs[0];
  assert.ok(job);
  assert.deepEqual(
    expandMatrix(job).map((e) => e.key),
    ["test (node=18, os=linux)", "test (node=20, os=linux)", "test (node=20, os=mac)"],
  );
  configErrorAt(
    () =>
      parsePipeline(
        "version: 1\njobs:\n  - name: t\n    run: [x]\n    matrix: {a: [1]}\n    matrix_exclude: [{b: 1}]\n",
      ),
    6,
    23,
    /not a matrix key/,
  );
});

test("more than 64 matrix combinations is a config_error; 64 is fine", () => {
  const matrix = (n: number) =>
    `version: 1\njobs:\n  - name: t\n    run: [x]\n    matrix:\n      a: [${Array.from({ length: n }, (_, i) => i).join(", ")}]\n      b: [x, y]\n`;
  const ok = parsePipeline(matrix(32)).jobs[0];
  assert.ok(ok);
  assert.equal(expandMatrix(ok).length, 64);
  const big = parsePipeline(matrix(33)).jobs[0];
  assert.ok(big);
  configErrorAt(() => expandMatrix(big), 3, 5, /66 combinations \(limit 64\)/);
  configErrorAt(() => parsePipeline(matrix(4097)), 6, 7, /limit 64/);
});
