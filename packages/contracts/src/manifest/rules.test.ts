// Document-level rules: TOML, schema_version, unknown keys, [app], [image], [env], [[volumes]].
import assert from "node:assert/strict";
import { test } from "node:test";
import { MANIFEST_ERROR_CODES as E } from "./errors.ts";
import { decodeManifestBytes, parseManifestToml } from "./parse.ts";
import { errorsOf, HEAD, onlyError, valid, web } from "./test-support.ts";
import { MANIFEST_MAX_BYTES } from "./types.ts";
import { validateManifest } from "./validate.ts";

const DIGEST = "0123456789abcdef".repeat(4);

test("a TOML syntax error is E_TOML with line and column, and nothing throws", () => {
  onlyError(`schema_version = "v1"\n\n[image\nref = "a:1"`, "", E.E_TOML, /^line 3, column \d+: /);
  onlyError(`schema_version = "v1"\nschema_version = "v1"`, "", E.E_TOML, /^line 2, /); // duplicate key
  onlyError(`a = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`, "", E.E_TOML);
});

test("oversized and non-UTF-8 input is refused before parsing", () => {
  const big = `${web()}# ${"x".repeat(MANIFEST_MAX_BYTES)}`;
  onlyError(big, "", E.E_TOO_LARGE);
  // Multi-byte characters count as bytes: 30 000 x "é" is 60 000 bytes (fits), 40 000 is not.
  valid(`${web()}# ${"\u00e9".repeat(30_000)}`);
  onlyError(`${web()}# ${"\u00e9".repeat(40_000)}`, "", E.E_TOO_LARGE);
  onlyError(`${web()}# \ud800`, "", E.E_ENCODING);
  assert.equal(parseManifestToml("a = 1").ok, true);
  // Bytes from a file or request body: strict UTF-8, BOM dropped.
  const bytes = decodeManifestBytes(new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(web())]));
  assert.ok(bytes.ok);
  valid(bytes.text);
  assert.deepEqual(decodeManifestBytes(new Uint8Array([0x61, 0xff, 0x62])), {
    ok: false,
    errors: [{ path: "", code: E.E_ENCODING, message: "the manifest is not valid UTF-8" }],
  });
});

test('schema_version is required and must be exactly "v1" (checklist 27)', () => {
  onlyError(web().replace('schema_version = "v1"\n', ""), "schema_version", E.E_REQUIRED);
  onlyError(web().replace('"v1"', '"v2"'), "schema_version", E.E_SCHEMA_VERSION);
  onlyError(web().replace('"v1"', "1"), "schema_version", E.E_SCHEMA_VERSION);
  // An unknown version's other keys are not judged by v1 rules.
  onlyError(`schema_version = "v2"\nwhatever = true`, "schema_version", E.E_SCHEMA_VERSION);
});

test("unknown keys are rejected at every level (checklist 27)", () => {
  onlyError(`${web()}\n`.replace("[image]", "build = true\n[image]"), "build", E.E_UNKNOWN_KEY);
  onlyError(
    web("", { resources: 'resources = { memory = "256Mi", gpu = 1 }' }),
    "processes.web.resources.gpu",
    E.E_UNKNOWN_KEY,
  );
  onlyError(
    web('health = { kind = "tcp" }\n[[processes.web.ports]]\ninternal = 80'),
    "processes.web.health.kind",
    E.E_UNKNOWN_KEY,
  );
  onlyError(web().replace('ref = "app:1"', 'ref = "app:1"\ntag = "x"'), "image.tag", E.E_UNKNOWN_KEY);
  onlyError(
    web("", { after: '[[volumes]]\nname = "v"\nsize = "1Gi"\nencrypted = true' }),
    "volumes[0].encrypted",
    E.E_UNKNOWN_KEY,
  );
  // Keys that would be dangerous as object properties are just unknown keys.
  onlyError(web('"__proto__" = { polluted = true }'), "processes.web.__proto__", E.E_UNKNOWN_KEY);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test("wrong TOML types are E_TYPE at the offending key", () => {
  onlyError(
    `schema_version = "v1"\nimage = "app:1"\n[processes.web]\nresources = { memory = "64Mi" }`,
    "image",
    E.E_TYPE,
  );
  onlyError(`schema_version = "v1"\nprocesses = 1\n[image]\nref = "a:1"`, "processes", E.E_TYPE);
  onlyError(`${HEAD}[processes]\nweb = "x"`, "processes.web", E.E_TYPE);
  onlyError(web().replace("[image]", "volumes = 1\n[image]"), "volumes", E.E_TYPE);
  onlyError(web().replace("[image]", "volumes = [1]\n[image]"), "volumes[0]", E.E_TYPE);
  onlyError(web("", { after: "[app]\ndescription = 1979-05-27" }), "app.description", E.E_TYPE);
});

test("[app]: the §2.1 name rule and a 256-character description", () => {
  valid(web("", { after: `[app]\nname = "${"a".repeat(63)}"` }));
  onlyError(web("", { after: '[app]\nname = "Shop"' }), "app.name", E.E_PATTERN);
  onlyError(web("", { after: '[app]\nname = "1shop"' }), "app.name", E.E_PATTERN);
  onlyError(web("", { after: '[app]\nname = "shop_app"' }), "app.name", E.E_PATTERN);
  onlyError(web("", { after: `[app]\nname = "${"a".repeat(64)}"` }), "app.name", E.E_PATTERN);
  // Characters, not bytes: 256 two-byte characters are fine.
  valid(web("", { after: `[app]\ndescription = "${"\u00e9".repeat(256)}"` }));
  onlyError(web("", { after: `[app]\ndescription = "${"d".repeat(257)}"` }), "app.description", E.E_RANGE);
  // [app] is optional: the CLI can take the app from flags or context.
  assert.deepEqual(valid(web()).manifest.app, {});
});

test("[image]: ref is required and must carry a tag or a sha256 digest", () => {
  for (const ref of [
    "nginx:1.25",
    "ghcr.io/acme/shop:1.2.3",
    "localhost:5000/team/app:dev_build-1",
    "[::1]:5000/app:1",
    `app@sha256:${DIGEST}`,
    `registry.example.com/acme/app:1.0@sha256:${DIGEST}`,
  ]) {
    assert.equal(valid(web().replace('ref = "app:1"', `ref = "${ref}"`)).manifest.image.ref, ref);
  }
  for (const [ref, why] of [
    ["nginx", /tag .* or a digest/],
    ["app@sha256:abc", /malformed digest/],
    [`app@sha256:${DIGEST.toUpperCase()}`, /malformed digest/],
    [`app@sha512:${DIGEST}${DIGEST}`, /malformed digest/],
    [`app@sha256:${DIGEST}0`, /malformed digest/],
    ["App:1", /image reference/],
    ["app:", /image reference/],
    ["app:-x", /image reference/],
    ["", /image reference/],
    [`app:${"t".repeat(129)}`, /image reference/],
  ] as const) {
    onlyError(web().replace('ref = "app:1"', `ref = "${ref}"`), "image.ref", E.E_PATTERN, why);
  }
  onlyError(web().replace('ref = "app:1"', ""), "image.ref", E.E_REQUIRED);
  onlyError(web().replace('[image]\nref = "app:1"\n', ""), "image", E.E_REQUIRED);
});

test("[image]: pull_policy is if_not_present (default) or always", () => {
  assert.equal(valid(web()).manifest.image.pull_policy, "if_not_present");
  assert.equal(
    valid(web().replace('ref = "app:1"', 'ref = "app:1"\npull_policy = "always"')).manifest.image.pull_policy,
    "always",
  );
  onlyError(
    web().replace('ref = "app:1"', 'ref = "app:1"\npull_policy = "never"'),
    "image.pull_policy",
    E.E_ENUM,
  );
  onlyError(
    web().replace('ref = "app:1"', 'ref = "app:1"\npull_policy = true'),
    "image.pull_policy",
    E.E_TYPE,
  );
});

test("[env]: var keys, string values, workdir, user, prestart and its timeout", () => {
  const env = (body: string) => web("", { after: `[env]\n${body}` });
  valid(env('vars = { _X = "1", A_B9 = "", PATH = "/bin" }'));
  onlyError(env('vars = { lower = "1" }'), "env.vars.lower", E.E_PATTERN);
  onlyError(env('vars = { 9X = "1" }'), "env.vars.9X", E.E_PATTERN);
  onlyError(env('vars = { "A B" = "1" }'), 'env.vars."A B"', E.E_PATTERN);
  onlyError(env("vars = { PORT = 8080 }"), "env.vars.PORT", E.E_TYPE);
  onlyError(env('vars = { A = ["x"] }'), "env.vars.A", E.E_TYPE);
  onlyError(env('vars = { A = "x\\u0000y" }'), "env.vars.A", E.E_PATTERN);
  onlyError(env('vars = "A=1"'), "env.vars", E.E_TYPE);
  onlyError(env('workdir = "srv"'), "env.workdir", E.E_PATTERN);
  onlyError(env('user = "a b"'), "env.user", E.E_PATTERN);
  onlyError(env('prestart = "./migrate"'), "env.prestart", E.E_TYPE);
  onlyError(env('prestart = ["./migrate", 1]'), "env.prestart[1]", E.E_TYPE);
  onlyError(env('prestart = [""]'), "env.prestart[0]", E.E_PATTERN);
  onlyError(env("prestart_timeout_seconds = 0"), "env.prestart_timeout_seconds", E.E_RANGE);
  onlyError(env("prestart_timeout_seconds = 1.5"), "env.prestart_timeout_seconds", E.E_TYPE);
  assert.equal(valid(env("prestart_timeout_seconds = 1")).manifest.env.prestart_timeout_seconds, 1);
});

test("[[volumes]]: name pattern and uniqueness, size, ext4 only, backup_enabled", () => {
  const vol = (body: string) => web("", { after: `[[volumes]]\n${body}` });
  assert.deepEqual(valid(vol('name = "data"\nsize = "1Gi"')).manifest.volumes, [
    { name: "data", size: "1Gi", filesystem: "ext4", backup_enabled: true },
  ]);
  onlyError(vol('name = "Data"\nsize = "1Gi"'), "volumes[0].name", E.E_PATTERN);
  onlyError(vol(`name = "${"v".repeat(33)}"\nsize = "1Gi"`), "volumes[0].name", E.E_PATTERN);
  onlyError(vol('size = "1Gi"'), "volumes[0].name", E.E_REQUIRED);
  onlyError(vol('name = "d"'), "volumes[0].size", E.E_REQUIRED);
  onlyError(vol('name = "d"\nsize = "10GB"'), "volumes[0].size", E.E_PATTERN);
  onlyError(vol('name = "d"\nsize = "1024Mi"'), "volumes[0].size", E.E_PATTERN);
  onlyError(vol('name = "d"\nsize = 10'), "volumes[0].size", E.E_TYPE);
  onlyError(vol('name = "d"\nsize = "0Gi"'), "volumes[0].size", E.E_RANGE);
  onlyError(vol('name = "d"\nsize = "99999999999Gi"'), "volumes[0].size", E.E_RANGE);
  onlyError(vol('name = "d"\nsize = "1Gi"\nfilesystem = "xfs"'), "volumes[0].filesystem", E.E_UNSUPPORTED);
  onlyError(vol('name = "d"\nsize = "1Gi"\nbackup_enabled = "yes"'), "volumes[0].backup_enabled", E.E_TYPE);
  onlyError(
    vol(
      'name = "d"\nsize = "1Gi"\n[[volumes]]\nname = "e"\nsize = "1Gi"\n[[volumes]]\nname = "d"\nsize = "2Gi"',
    ),
    "volumes[2].name",
    E.E_DUPLICATE,
    /volumes\[0\]/,
  );
});

test("every error is reported, in a deterministic order independent of key order", () => {
  const a = `schema_version = "v1"
[image]
ref = "nginx"
pull_policy = "sometimes"
[processes.b]
resources = { memory = "1MB" }
[processes.a]
resources = { cpu = 0 }
[[volumes]]
name = "X"
size = "1Gi"
`;
  const b = `[[volumes]]
size = "1Gi"
name = "X"
[processes.a]
resources = { cpu = 0 }
[processes.b]
resources = { memory = "1MB" }
[image]
pull_policy = "sometimes"
ref = "nginx"
`;
  const expected = [
    ["image.pull_policy", E.E_ENUM],
    ["image.ref", E.E_PATTERN],
    ["processes.a.resources.cpu", E.E_RANGE],
    ["processes.a.resources.memory", E.E_REQUIRED],
    ["processes.b.resources.memory", E.E_PATTERN],
    ["volumes[0].name", E.E_PATTERN],
  ];
  assert.deepEqual(
    errorsOf(a).map((e) => [e.path, e.code]),
    expected,
  );
  assert.deepEqual(errorsOf(`schema_version = "v1"\n${b}`), errorsOf(a));
  assert.deepEqual(validateManifest(a), validateManifest(a));
});
