// Property tests: hash stability, fmt idempotence, and never throwing.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { stringify } from "smol-toml";
import { formatManifest } from "./canonical-toml.ts";
import { MANIFEST_ERROR_CODES } from "./errors.ts";
import { normaliseManifest } from "./normalise.ts";
import { decorate, reorder, shuffler, tomlValue, validManifestObject } from "./test-arbitraries.ts";
import { type ManifestValidateResult, validateManifest } from "./validate.ts";

const CODES = new Set<string>(Object.values(MANIFEST_ERROR_CODES));

function mustBeValid(text: string) {
  const r = validateManifest(text);
  if (!r.ok) throw new Error(`generated manifest rejected: ${JSON.stringify(r.errors)}\n${text}`);
  return r;
}

/** Whatever the input, the result has the documented shape. */
function assertWellFormed(r: ManifestValidateResult): void {
  if (r.ok) {
    assert.match(r.hash, /^sha256:[0-9a-f]{64}$/);
    return;
  }
  assert.ok(r.errors.length > 0);
  for (const e of r.errors) {
    assert.equal(typeof e.path, "string");
    assert.ok(CODES.has(e.code), `unknown code ${e.code}`);
    assert.ok(e.message.length > 0);
  }
}

test("generated manifests are valid, and their hash ignores key order, volume order, whitespace and comments", () => {
  fc.assert(
    fc.property(validManifestObject, fc.integer(), (m, seed) => {
      const shuffle = shuffler(seed);
      const a = mustBeValid(stringify(m));
      const b = mustBeValid(decorate(stringify(reorder(m, shuffle)), shuffle));
      assert.equal(b.hash, a.hash);
      assert.deepEqual(b.manifest, a.manifest);
    }),
    { numRuns: 300 },
  );
});

test("fmt is idempotent, keeps the hash, and is unaffected by layout", () => {
  fc.assert(
    fc.property(validManifestObject, fc.integer(), (m, seed) => {
      const text = stringify(m);
      const once = formatManifest(text);
      assert.ok(once.ok);
      const twice = formatManifest(once.text);
      assert.ok(twice.ok);
      assert.equal(twice.text, once.text);
      assert.equal(mustBeValid(once.text).hash, mustBeValid(text).hash);
      const shuffle = shuffler(seed);
      const other = formatManifest(decorate(stringify(reorder(m, shuffle)), shuffle));
      assert.ok(other.ok);
      assert.equal(other.text, once.text);
    }),
    { numRuns: 200 },
  );
});

test("validate never throws on arbitrary strings", () => {
  const chars16 = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) });
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string({ unit: "binary" }), chars16), (s) => {
      assertWellFormed(validateManifest(s));
    }),
    { numRuns: 1000 },
  );
});

test("validate never throws on TOML-ish token soup", () => {
  const token = fc.constantFrom(
    "schema_version",
    "=",
    '"v1"',
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    ",",
    ".",
    "\n",
    " ",
    "processes",
    "web",
    "resources",
    "memory",
    '"64Mi"',
    "ports",
    "internal",
    "80",
    "1.5",
    "true",
    "#",
    '"',
    "'''",
    "1979-05-27T07:32:00Z",
    "inf",
    "nan",
    "volumes",
    "mounts",
    "\\u0000",
  );
  fc.assert(
    fc.property(fc.array(token, { maxLength: 60 }), (tokens) => {
      assertWellFormed(validateManifest(tokens.join("")));
    }),
    { numRuns: 1000 },
  );
});

test("validate never throws on arbitrary TOML documents", () => {
  fc.assert(
    fc.property(fc.dictionary(fc.string({ maxLength: 10 }), tomlValue, { maxKeys: 6 }), (doc) => {
      assertWellFormed(
        validateManifest(`schema_version = "v1"\n${stringify(doc).replace(/^schema_version = .*$/m, "")}`),
      );
      assertWellFormed(validateManifest(stringify(doc)));
    }),
    { numRuns: 500 },
  );
});

test("a valid manifest with one value replaced anywhere never makes validate throw", () => {
  // Walk to a random node of a valid manifest and replace it with any TOML value.
  const mutate = (m: Record<string, unknown>, picks: number[], value: unknown): unknown => {
    let node: unknown = m;
    for (const pick of picks) {
      const keys =
        node !== null && typeof node === "object" && !(node instanceof Date)
          ? Object.keys(node as object)
          : [];
      if (keys.length === 0) break;
      const key = keys[pick % keys.length] as string;
      const child = (node as Record<string, unknown>)[key];
      if (child === null || typeof child !== "object" || pick % 3 === 0) {
        (node as Record<string, unknown>)[key] = value;
        return m;
      }
      node = child;
    }
    return m;
  };
  fc.assert(
    fc.property(
      validManifestObject,
      fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
      tomlValue,
      (m, picks, v) => {
        const text = stringify(mutate(structuredClone(m), picks, v));
        const r = validateManifest(text);
        assertWellFormed(r);
        assert.deepEqual(validateManifest(text), r); // deterministic
      },
    ),
    { numRuns: 500 },
  );
});

test("normaliseManifest never throws on arbitrary JavaScript values", () => {
  fc.assert(
    fc.property(
      fc.anything({ withDate: true, withMap: true, withBigInt: true, withNullPrototype: true }),
      (v) => {
        const r = normaliseManifest(v);
        if (!r.ok) assert.ok(r.errors.every((e) => CODES.has(e.code)));
      },
    ),
    { numRuns: 500 },
  );
});
