import assert from "node:assert/strict";
import { test } from "node:test";
import { affectedProjects, detectRecipes, manifestsToRead } from "./detect.ts";

function detect(files: Record<string, string>) {
  const paths = Object.keys(files);
  const wanted = new Set(manifestsToRead(paths));
  return detectRecipes(paths, (p) => {
    assert.ok(wanted.has(p), `detect read ${p}, which manifestsToRead did not list`);
    return files[p];
  });
}

const pkg = (...scripts: string[]) =>
  JSON.stringify({ scripts: Object.fromEntries(scripts.map((s) => [s, `echo ${s}`])) });

test("package.json scripts lint, build, test yield three jobs with the lockfile's package manager", () => {
  const d = detect({ "package.json": pkg("lint", "build", "test", "start"), "pnpm-lock.yaml": "" });
  assert.deepEqual(
    d.jobs.map((j) => [j.key, j.run]),
    [
      ["root:lint", ["pnpm install --frozen-lockfile", "pnpm run lint"]],
      ["root:build", ["pnpm install --frozen-lockfile", "pnpm run build"]],
      ["root:test", ["pnpm install --frozen-lockfile", "pnpm run test"]],
    ],
  );
});

test("a Makefile target beats the package.json script, which beats the language default", () => {
  const d = detect({
    "web/package.json": pkg("build", "test"),
    "web/Makefile": "# build: not at line start\n.PHONY: test\ntest: deps\n\tnpm test\n",
    "web/go.mod": "module x\n",
    "yarn.lock": "",
  });
  const byKey = Object.fromEntries(d.jobs.map((j) => [j.key, j]));
  assert.deepEqual(byKey["web:test"]?.run, ["make test"]);
  assert.equal(byKey["web:test"]?.manifest, "web/Makefile");
  assert.deepEqual(byKey["web:build"]?.run, ["yarn install --immutable", "yarn run build"]);
  assert.deepEqual(byKey["web:lint"]?.run, ["go vet ./..."]);
  assert.equal(byKey["web:lint"]?.manifest, "web/go.mod");
});

test("manifests are found to depth 3, skipping vendor-like and dot directories", () => {
  const d = detect({
    "a/b/c/go.mod": "",
    "a/b/c/d/go.mod": "",
    "node_modules/x/go.mod": "",
    "vendor/go.mod": "",
    "x/target/Cargo.toml": "",
    ".hidden/go.mod": "",
    "dist/go.mod": "",
  });
  assert.deepEqual(
    d.projects.map((p) => p.name),
    ["a/b/c"],
  );
});

test("Cargo.toml and pyproject.toml rules", () => {
  const d = detect({
    "rs/Cargo.toml": "[package]\n",
    "py/pyproject.toml": "[build-system]\nrequires=[]\n[tool.ruff]\n",
    "py2/pyproject.toml": "[project]\n",
    "py2/tests/test_a.py": "",
    "py3/pyproject.toml": "[project]\n",
  });
  assert.deepEqual(
    d.jobs.map((j) => `${j.key}=${j.run.join(";")}`),
    [
      "py:lint=ruff check .",
      "py:build=python -m build",
      "py2:test=pytest",
      "rs:lint=cargo clippy --locked -- -D warnings",
      "rs:build=cargo build --locked",
      "rs:test=cargo test --locked",
    ],
  );
  assert.ok(
    d.projects.some((p) => p.name === "py3"),
    "a manifest without tasks is still a project",
  );
});

test("a changed file affects its deepest project and that project's ancestors", () => {
  const projects = [
    { name: "root", dir: "" },
    { name: "web", dir: "web" },
    { name: "web/admin", dir: "web/admin" },
    { name: "webby", dir: "webby" },
  ];
  const a = affectedProjects(projects, ["web/admin/x.ts"]);
  assert.deepEqual([...a.keys()].sort(), ["root", "web", "web/admin"]);
  assert.deepEqual([...affectedProjects(projects, ["README.md"]).keys()], ["root"]);
});
