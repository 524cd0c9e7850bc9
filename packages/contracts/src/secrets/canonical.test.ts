import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { test } from "node:test";
import fc from "fast-check";
import {
  canonicaliseSecretsFile,
  canonicaliseValues,
  canonicalSecretsBytes,
  mergeSecrets,
  secretsDataHash,
} from "./canonical.ts";
import { resolveSecretsLimits, type SecretsLimits } from "./limits.ts";
import { parseSecretsFile } from "./parse.ts";
import { expectSecretsError, HEADER, PLANT, windows } from "./test-helpers.ts";
import { isPlainRepresentable } from "./value.ts";

const FORMAT = "invalid_secrets_format";
const TOO_LARGE = "secrets_too_large";

test("canonical form: header, keys in byte order, no comments, trailing newline", () => {
  const file = `${HEADER}# comment\r\n_X=4\r\nZ=3\n\nA_=2\nAB=base64:${Buffer.from("1").toString("base64")}`;
  const c = canonicaliseSecretsFile(file);
  assert.equal(c.canonical.toString(), `${HEADER}AB=1\nA_=2\nZ=3\n_X=4\n`);
  assert.deepEqual(c.keys, ["AB", "A_", "Z", "_X"]);
  assert.deepEqual([...c.values.keys()], c.keys);
});

test("canonical values: plain when representable, else base64:", () => {
  const b64 = (s: string | Buffer) => `base64:${Buffer.from(s).toString("base64")}`;
  const c = canonicaliseValues({
    PLAIN: "héllo wörld",
    NL: b64("a\nb"),
    CR: b64("a\rb"),
    NUL: b64("a\0b"),
    BIN: Buffer.from([0xff, 0xfe]),
    LITERAL: b64("base64:not decoded twice"),
    EMPTY: b64(""),
    PREFIX_ONLY: "base6",
  });
  assert.equal(
    c.canonical.toString(),
    [
      HEADER.trimEnd(),
      `BIN=${b64(Buffer.from([0xff, 0xfe]))}`,
      `CR=${b64("a\rb")}`,
      "EMPTY=",
      `LITERAL=${b64("base64:not decoded twice")}`,
      `NL=${b64("a\nb")}`,
      `NUL=${b64("a\0b")}`,
      "PLAIN=héllo wörld",
      "PREFIX_ONLY=base6",
      "",
    ].join("\n"),
  );
});

test("a plain-representable value longer than the plain limit stays base64: so the canonical file re-parses", () => {
  const long = "x".repeat(9000);
  const c = canonicaliseSecretsFile(`${HEADER}L=base64:${Buffer.from(long).toString("base64")}\n`);
  assert.ok(c.canonical.toString().startsWith(`${HEADER}L=base64:`));
  assert.equal(parseSecretsFile(c.canonical).get("L")?.toString(), long);
});

test("data_hash is lowercase hex sha256 of the canonical bytes, with known vectors", () => {
  assert.equal(
    canonicaliseValues({}).dataHash,
    "ba68ce706417fc87862a55c8cdf843da7af577984451b842a93ea8b9ea83c036",
  );
  const c = canonicaliseSecretsFile(`${HEADER}# x\r\nB=base64:AP8=\r\nA=b\r\n`);
  assert.equal(c.dataHash, "4fd81a4af690f1513788d0f6a2365405c7d70ab0851a2fae404cb11f49bb636c");
  assert.equal(c.dataHash, createHash("sha256").update(c.canonical).digest("hex"));
  assert.equal(secretsDataHash(c.canonical), c.dataHash);
});

test("{values}: strings use file syntax, bytes are raw, bad entries are named by key without the value", () => {
  const c = canonicaliseValues({ A: "base64:AP8=", B: Buffer.from("base64:AP8="), C: "plain" });
  assert.deepEqual(c.values.get("A"), Buffer.from([0x00, 0xff]));
  assert.equal(c.values.get("B")?.toString(), "base64:AP8=");
  assert.equal(canonicaliseSecretsFile(c.canonical).dataHash, c.dataHash);

  expectSecretsError(() => canonicaliseValues({ K: `${PLANT}\nx` }), FORMAT, "K", "invalid_value");
  expectSecretsError(() => canonicaliseValues({ K: `${PLANT}\0` }), FORMAT, "K", "invalid_value");
  expectSecretsError(() => canonicaliseValues({ K: `${PLANT}\uDC00` }), FORMAT, "K", "invalid_value");
  expectSecretsError(() => canonicaliseValues({ K: `base64:${PLANT}` }), FORMAT, "K", "invalid_base64");
  expectSecretsError(() => canonicaliseValues({ K: 42 as unknown as string }), FORMAT, "K", "invalid_value");
  expectSecretsError(
    () => canonicaliseValues({ K: null as unknown as string }),
    FORMAT,
    "K",
    "invalid_value",
  );
  expectSecretsError(() => canonicaliseValues({ lower: PLANT }), FORMAT, "lower", "invalid_key");
  expectSecretsError(() => canonicaliseValues({ "BAD\nKEY": PLANT }), FORMAT, "BAD?KEY", "invalid_key");
  expectSecretsError(
    () => canonicaliseValues([PLANT] as unknown as Record<string, string>),
    FORMAT,
    "values",
    "invalid_value",
  );
  expectSecretsError(() => canonicaliseValues({ K: PLANT.repeat(400) }), TOO_LARGE, "K", "value_too_large");
  expectSecretsError(
    () => canonicaliseValues({ K: Buffer.alloc(65_537, PLANT) }),
    TOO_LARGE,
    "K",
    "value_too_large",
  );
  expectSecretsError(
    () => canonicaliseValues({ [`K${"X".repeat(128)}`]: PLANT }),
    TOO_LARGE,
    `K${"X".repeat(127)}…`,
    "key_too_long",
  );
  const many = Object.fromEntries(
    Array.from({ length: 257 }, (_, i) => [`K${String(i).padStart(3, "0")}`, PLANT]),
  );
  expectSecretsError(() => canonicaliseValues(many), TOO_LARGE, "K256", "too_many_keys");
  // Five 60 000-byte binary values are each fine but their base64 file is ~400 KB.
  const wide = Object.fromEntries(
    Array.from({ length: 5 }, (_, i) => [`W${i}`, Buffer.alloc(60_000, PLANT)]),
  );
  expectSecretsError(() => canonicaliseValues(wide), TOO_LARGE, "file", "file_too_large");
});

test("{values} copies byte values: the caller may reuse its buffer", () => {
  const buf = Buffer.from("original");
  const c = canonicaliseValues({ K: buf });
  buf.fill(0);
  assert.equal(c.values.get("K")?.toString(), "original");
});

test("merge: set, replace and delete; deleting an absent key is a no-op; limits apply to the result", () => {
  const current = canonicaliseValues({ A: "1", B: "2", C: "3" }).values;
  const merged = mergeSecrets(current, { B: null, C: "three", D: "base64:AA==", MISSING: null });
  assert.equal(merged.canonical.toString(), `${HEADER}A=1\nC=three\nD=base64:AA==\n`);
  assert.equal(merged.dataHash, canonicaliseValues({ A: "1", C: "three", D: Buffer.from([0]) }).dataHash);
  assert.equal(current.get("B")?.toString(), "2", "the current values are not mutated");
  assert.equal(mergeSecrets(current, {}).dataHash, canonicaliseValues({ A: "1", B: "2", C: "3" }).dataHash);

  expectSecretsError(() => mergeSecrets(current, { bad: null }), FORMAT, "bad", "invalid_key");
  expectSecretsError(() => mergeSecrets(current, { A: `${PLANT}\r` }), FORMAT, "A", "invalid_value");
  const limits = resolveSecretsLimits({ maxKeys: 3 });
  expectSecretsError(() => mergeSecrets(current, { E: PLANT }, limits), TOO_LARGE, "E", "too_many_keys");
  assert.deepEqual(mergeSecrets(current, { A: null, E: PLANT }, limits).keys, ["B", "C", "E"]);
});

// ---- properties ----------------------------------------------------------

const keyArb = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,12}$/);
const awkward = [
  "",
  "base64:",
  "base64:AA==",
  "a=b",
  "#x",
  " lead",
  "trail ",
  "a\nb",
  "a\r\nb",
  "\0",
  "é",
  "\u{1F600}",
];
const valueArb: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b)),
  fc.string({ unit: "grapheme", maxLength: 24 }).map((s) => Buffer.from(s)),
  fc.constantFrom(...awkward).map((s) => Buffer.from(s)),
);
const bundleArb = fc.dictionary(keyArb, valueArb, { maxKeys: 12 }).map((d) => new Map(Object.entries(d)));

/** Writes `values` as a messy but valid file: chosen line ends, comments, blanks, plain or base64 at random. */
const fileArb = (limits: SecretsLimits) =>
  bundleArb.chain((values) =>
    fc
      .record({
        crlf: fc.boolean(),
        leading: fc.nat(2),
        noise: fc.array(fc.constantFrom("", "# note", "#", "# KEY=value"), {
          minLength: values.size + 1,
          maxLength: values.size + 1,
        }),
        forceBase64: fc.array(fc.boolean(), { minLength: values.size, maxLength: values.size }),
        finalNewline: fc.boolean(),
        shuffle: fc.shuffledSubarray([...values.keys()], { minLength: values.size, maxLength: values.size }),
      })
      .map(({ crlf, leading, noise, forceBase64, finalNewline, shuffle }) => {
        const lines = [...Array(leading).fill(""), "# PLFM_SECRETS_V1", noise[0] ?? ""];
        shuffle.forEach((key, i) => {
          const v = values.get(key) ?? Buffer.alloc(0);
          const plain = !forceBase64[i] && isPlainRepresentable(v) && v.length <= limits.maxPlainValueBytes;
          lines.push(`${key}=${plain ? v.toString() : `base64:${v.toString("base64")}`}`, noise[i + 1] ?? "");
        });
        const eol = crlf ? "\r\n" : "\n";
        return { values, file: lines.join(eol) + (finalNewline ? eol : "") };
      }),
  );

for (const limits of [resolveSecretsLimits(), resolveSecretsLimits({ maxPlainValueBytes: 6 })]) {
  test(`property: canonical(parse(x)) is a fixed point (plain limit ${limits.maxPlainValueBytes})`, () => {
    fc.assert(
      fc.property(fileArb(limits), ({ values, file }) => {
        const parsed = parseSecretsFile(file, limits);
        assert.deepEqual(parsed, values);
        const c1 = canonicalSecretsBytes(parsed, limits);
        const reparsed = parseSecretsFile(c1, limits);
        assert.deepEqual(reparsed, parsed);
        assert.deepEqual(canonicalSecretsBytes(reparsed, limits), c1);
        const viaFile = canonicaliseSecretsFile(file, limits);
        assert.deepEqual(viaFile.canonical, c1);
        assert.equal(viaFile.dataHash, secretsDataHash(c1));
        assert.equal(canonicaliseSecretsFile(c1, limits).dataHash, viaFile.dataHash);
        assert.deepEqual(canonicaliseValues(Object.fromEntries(values), limits).canonical, c1);
        assert.deepEqual(
          viaFile.keys,
          [...values.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
        );
      }),
      { numRuns: 300 },
    );
  });
}

test("property: a value planted in a broken line never appears in the error", () => {
  const breakage = fc.constantFrom(
    (v: string) => v, // no "="
    (v: string) => `lower=${v}`,
    (v: string) => `K=${v}\0`,
    (v: string) => `K=${v}\rX`,
    (v: string) => `K=base64:${v}`,
    (v: string) => `K=base64:${Buffer.from(v).toString("base64")}!`,
    (v: string) => `K=${v.repeat(Math.ceil(9000 / v.length))}`,
  );
  // "!" is not base64, so even the `base64:` breakage really breaks the line.
  const plantArb = fc
    .string({ minLength: 12, maxLength: 40 })
    .map((s) => `Zq9!${s.replace(/[\r\n=]/g, "x")}`);
  fc.assert(
    fc.property(bundleArb, plantArb, breakage, fc.boolean(), (values, plant, brk, crlf) => {
      const good = canonicalSecretsBytes(values).toString().replace(/\n$/, "").split("\n");
      const file = [...good, brk(plant)].join(crlf ? "\r\n" : "\n");
      try {
        parseSecretsFile(file);
      } catch (err) {
        const printed = JSON.stringify({
          m: (err as Error).message,
          d: (err as { details: unknown }).details,
        });
        const fragments = [...windows(plant, 8), ...windows(Buffer.from(plant).toString("base64"), 8)];
        assert.equal(
          fragments.find((f) => printed.includes(f)),
          undefined,
          printed,
        );
        return;
      }
      assert.fail("a broken line was accepted");
    }),
    { numRuns: 300 },
  );
});
