import assert from "node:assert/strict";
import { test } from "node:test";
import { globMatcher, globProblem } from "./glob.ts";

const cases: [string, string, boolean][] = [
  ["src/*", "src/a.ts", true],
  ["src/*", "src/a/b.ts", false], // * stays inside one segment
  ["src/**", "src/a/b/c.ts", true],
  ["**/*.ts", "a.ts", true], // ** also matches zero directories
  ["**/*.ts", "x/y/a.ts", true],
  ["docs/**/index.md", "docs/index.md", true],
  ["a?.md", "ab.md", true],
  ["a?.md", "a/.md", false], // ? never matches '/'
  ["{web,api}/**", "web/x.ts", true],
  ["{web,api}/**", "api/x.ts", true],
  ["{web,api}/**", "docs/x.ts", false],
  [".delta/**", ".delta/pipeline.yml", true],
  ["web/**", "web/.eslintrc", true], // dotfiles are files too
  ["*.md", "docs/a.md", false],
  ["pages/[id].ts", "pages/[id].ts", true], // brackets are literal: not in the spec's glob language
  ["pages/[id].ts", "pages/i.ts", false],
  ["!a", "b", false], // no negation
  ["+(a|b)", "a", false], // no extglobs
];

test("globs follow the spec's *, **, ? and {a,b} semantics and nothing more", () => {
  for (const [glob, path, want] of cases) assert.equal(globMatcher(glob)(path), want, `${glob} vs ${path}`);
});

test("unusable globs are named", () => {
  assert.equal(globProblem("src/**"), null);
  assert.match(globProblem("") ?? "", /empty/);
  assert.match(globProblem("/abs/**") ?? "", /relative/);
});
