import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { test } from "node:test";
import { MAX_REPORTED_PROBLEMS } from "./errors.ts";
import { DEFAULT_SECRETS_LIMITS, resolveSecretsLimits } from "./limits.ts";
import { parseSecretsFile } from "./parse.ts";
import { expectSecretsError, HEADER, PLANT } from "./test-helpers.ts";

const text = (m: Map<string, Buffer>) => Object.fromEntries([...m].map(([k, v]) => [k, v.toString("utf8")]));
const FORMAT = "invalid_secrets_format";
const TOO_LARGE = "secrets_too_large";

test("a file with comments, blank lines and verbatim values", () => {
  const file = `\n\n${HEADER}# a comment\n\nA=1\nB= spaced  \nC=x=y # not a comment\nD=\n#E=ignored\n_F9=ünïcødé\n`;
  assert.deepEqual(text(parseSecretsFile(file)), {
    A: "1",
    B: " spaced  ",
    C: "x=y # not a comment",
    D: "",
    _F9: "ünïcødé",
  });
  assert.deepEqual([...parseSecretsFile(file).keys()], ["A", "B", "C", "D", "_F9"], "file order is kept");
});

test("bytes and strings parse alike; a missing final newline is fine", () => {
  const file = `${HEADER}A=1\nB=2`;
  assert.deepEqual(parseSecretsFile(Buffer.from(file)), parseSecretsFile(file));
  assert.deepEqual(text(parseSecretsFile(new Uint8Array(Buffer.from(file)))), { A: "1", B: "2" });
});

test("CRLF line ends are accepted and give the same values as LF", () => {
  const lf = `${HEADER}# c\nA=1\n\nB=two words\n`;
  assert.deepEqual(parseSecretsFile(lf.replaceAll("\n", "\r\n")), parseSecretsFile(lf));
});

test("a lone CR is rejected with its line number, mid-line or at the end of the file", () => {
  expectSecretsError(() => parseSecretsFile(`${HEADER}A=1\nB=${PLANT}\rtail\n`), FORMAT, "line 3", "lone_cr");
  expectSecretsError(() => parseSecretsFile(`${HEADER}A=${PLANT}\r`), FORMAT, "line 2", "lone_cr");
  expectSecretsError(() => parseSecretsFile(`${HEADER}A=${PLANT}\r\r\n`), FORMAT, "line 2", "lone_cr");
  expectSecretsError(() => parseSecretsFile(`# PLFM_SECRETS_V1\rA=${PLANT}\n`), FORMAT, "line 1", "lone_cr");
});

test("invalid UTF-8 is rejected by line, from bytes and from strings with lone surrogates", () => {
  const bytes = Buffer.concat([
    Buffer.from(`${HEADER}A=1\nB=${PLANT}`),
    Buffer.from([0xc3, 0x28]),
    Buffer.from("\n"),
  ]);
  expectSecretsError(() => parseSecretsFile(bytes), FORMAT, "line 3", "invalid_utf8");
  // Overlong encoding of "/" and an encoded surrogate are not UTF-8 either.
  for (const bad of [
    [0xc0, 0xaf],
    [0xed, 0xa0, 0x80],
  ]) {
    const b = Buffer.concat([Buffer.from(`${HEADER}A=${PLANT}`), Buffer.from(bad)]);
    expectSecretsError(() => parseSecretsFile(b), FORMAT, "line 2", "invalid_utf8");
  }
  expectSecretsError(
    () => parseSecretsFile(`${HEADER}A=1\nB=${PLANT}\uD800\n`),
    FORMAT,
    "line 3",
    "invalid_utf8",
  );
});

test("the first non-empty line must be exactly the header", () => {
  const cases: [string, string][] = [
    [`A=${PLANT}\n`, "line 1"],
    [`\n\n# plfm_secrets_v1\nA=${PLANT}\n`, "line 3"],
    [`# PLFM_SECRETS_V1 \nA=${PLANT}\n`, "line 1"],
    [` # PLFM_SECRETS_V1\nA=${PLANT}\n`, "line 1"],
    [`# a comment first\n${HEADER}A=${PLANT}\n`, "line 1"],
    [`\uFEFF${HEADER}A=${PLANT}\n`, "line 1"],
    [`# PLFM_SECRETS_V2\nA=${PLANT}\n`, "line 1"],
  ];
  for (const [file, field] of cases) {
    expectSecretsError(() => parseSecretsFile(file), FORMAT, field, "missing_header");
  }
  const bom = expectSecretsError(
    () => parseSecretsFile(`\uFEFF${HEADER}`),
    FORMAT,
    "line 1",
    "missing_header",
  );
  assert.match(bom.message, /byte order mark/);
  for (const empty of ["", "\n\n", "\r\n"]) {
    expectSecretsError(() => parseSecretsFile(empty), FORMAT, "file", "missing_header");
  }
  assert.equal(parseSecretsFile(`\r\n\n${HEADER}`).size, 0, "blank lines may precede the header");
});

test("a line that is not KEY=VALUE is named by number only", () => {
  const err = expectSecretsError(
    () => parseSecretsFile(`${HEADER}A=1\n${PLANT}\n`),
    FORMAT,
    "line 3",
    "invalid_line",
  );
  assert.match(err.message, /line 3/);
  expectSecretsError(() => parseSecretsFile(`${HEADER}   \n`), FORMAT, "line 2", "invalid_line");
});

test("bad keys are rejected by line number without echoing the key", () => {
  for (const key of ["lower", "1ABC", "A-B", " KEY", "KEY ", "", "export KEY", "ÄB", "dGVzdA"]) {
    const err = expectSecretsError(
      () => parseSecretsFile(`${HEADER}${key}=${PLANT}\n`),
      FORMAT,
      "line 2",
      "invalid_key",
    );
    if (key.length > 2) assert.ok(!JSON.stringify(err.details).includes(key.trim()), `key echoed: ${key}`);
  }
  // A base64 value wrapped onto its own line looks like `xxxx=`: its "key" may be a fragment of a secret.
  expectSecretsError(
    () => parseSecretsFile(`${HEADER}A=1\nUExBTlRFRC1zM2NyM3Q=\n`),
    FORMAT,
    "line 3",
    "invalid_key",
  );
});

test("duplicate keys are rejected naming the key and both lines", () => {
  const err = expectSecretsError(
    () => parseSecretsFile(`${HEADER}A=1\nB=2\nA=${PLANT}\n`),
    FORMAT,
    "A",
    "duplicate_key",
  );
  assert.match(err.message, /line 4.*line 2/);
});

test("plain values may not contain NUL", () => {
  expectSecretsError(() => parseSecretsFile(`${HEADER}K=${PLANT}\0x\n`), FORMAT, "K", "invalid_value");
});

test("base64: values are always decoded and must be padded standard base64", () => {
  const v = parseSecretsFile(
    `${HEADER}A=base64:AP8KDQ==\nB=base64:\nC=base64:${Buffer.from("base64:x").toString("base64")}\n`,
  );
  assert.deepEqual(v.get("A"), Buffer.from([0x00, 0xff, 0x0a, 0x0d]));
  assert.deepEqual(v.get("B"), Buffer.alloc(0));
  assert.equal(v.get("C")?.toString(), "base64:x");
  const planted = Buffer.from(PLANT).toString("base64"); // 25 bytes: ends in "Zg=="
  assert.ok(planted.endsWith("Zg=="));
  for (const bad of [
    planted.slice(0, -1), // not a multiple of 4
    planted.slice(0, -2), // padding missing
    `-${planted.slice(1)}`, // URL-safe alphabet
    `${planted.slice(0, 4)} ${planted.slice(4)}`, // whitespace
    `${planted.slice(0, -4)}Zh==`, // non-zero padding bits: "Zg==" is the one spelling of "f"
    `${planted}=`, // stray padding
    `=${planted}`,
    `${planted}${planted}`, // padding in the middle
  ]) {
    expectSecretsError(() => parseSecretsFile(`${HEADER}K=base64:${bad}\n`), FORMAT, "K", "invalid_base64");
  }
  assert.equal(parseSecretsFile(`${HEADER}K=base64:QQ==\n`).get("K")?.toString(), "A");
});

test("limits: defaults accept values exactly at each limit", () => {
  const key128 = `K${"X".repeat(127)}`;
  const plain = "p".repeat(DEFAULT_SECRETS_LIMITS.maxPlainValueBytes);
  const decoded = Buffer.alloc(DEFAULT_SECRETS_LIMITS.maxDecodedValueBytes, 7);
  const keys = Array.from({ length: 253 }, (_, i) => `K${i}=v\n`).join("");
  const file = `${HEADER}${key128}=1\nP=${plain}\nB=base64:${decoded.toString("base64")}\n${keys}`;
  const v = parseSecretsFile(file);
  assert.equal(v.size, 256);
  assert.equal(v.get("B")?.length, 65_536);
});

test("limits: file size, key count, key length, plain and decoded value sizes name the offender", () => {
  const plant = PLANT.repeat(400); // 10 000 bytes, well over 8192
  expectSecretsError(() => parseSecretsFile(`${HEADER}A=${plant}\n`), TOO_LARGE, "A", "value_too_large");
  const big = Buffer.alloc(65_537, PLANT).toString("base64");
  expectSecretsError(
    () => parseSecretsFile(`${HEADER}A=1\nBIG=base64:${big}\n`),
    TOO_LARGE,
    "BIG",
    "value_too_large",
  );
  const key129 = `K${"X".repeat(128)}`;
  expectSecretsError(
    () => parseSecretsFile(`${HEADER}${key129}=${PLANT}\n`),
    TOO_LARGE,
    `${key129.slice(0, 128)}…`,
    "key_too_long",
  );
  const keys = Array.from({ length: 300 }, (_, i) => `K${String(i).padStart(3, "0")}=${PLANT}\n`).join("");
  const err = expectSecretsError(() => parseSecretsFile(HEADER + keys), TOO_LARGE, "K256", "too_many_keys");
  assert.match(err.message, /300 keys; at most 256/);
  const huge = `${HEADER}${"#".repeat(256 * 1024)}\nA=${PLANT}\n`;
  expectSecretsError(() => parseSecretsFile(huge), TOO_LARGE, "file", "file_too_large");
});

test("limits are configurable", () => {
  const limits = resolveSecretsLimits({
    maxKeys: 2,
    maxPlainValueBytes: 4,
    maxKeyLength: 3,
    maxDecodedValueBytes: 5,
  });
  assert.equal(limits.maxFileBytes, DEFAULT_SECRETS_LIMITS.maxFileBytes);
  assert.equal(parseSecretsFile(`${HEADER}ABC=1234\nB=base64:AAAAAAA=\n`, limits).size, 2);
  expectSecretsError(() => parseSecretsFile(`${HEADER}A=12345\n`, limits), TOO_LARGE, "A", "value_too_large");
  expectSecretsError(
    () => parseSecretsFile(`${HEADER}A=base64:AAAAAAAA\n`, limits),
    TOO_LARGE,
    "A",
    "value_too_large",
  );
  expectSecretsError(() => parseSecretsFile(`${HEADER}ABCD=1\n`, limits), TOO_LARGE, "ABC…", "key_too_long");
  expectSecretsError(
    () => parseSecretsFile(`${HEADER}A=1\nB=2\nC=3\n`, limits),
    TOO_LARGE,
    "C",
    "too_many_keys",
  );
  const file = `${HEADER}A=1\n`;
  const tight = resolveSecretsLimits({ maxFileBytes: Buffer.byteLength(file) });
  assert.equal(parseSecretsFile(file, tight).size, 1);
  expectSecretsError(() => parseSecretsFile(`${file}#\n`, tight), TOO_LARGE, "file", "file_too_large");
  assert.throws(() => resolveSecretsLimits({ maxKeys: 0 }), RangeError);
  assert.throws(() => resolveSecretsLimits({ maxFileBytes: 1.5 }), RangeError);
});

test("every problem is reported (bounded); a format problem makes the whole error a format error", () => {
  const file = `${HEADER}A=${PLANT.repeat(400)}\nlower=${PLANT}\nA=2\n`;
  const err = expectSecretsError(() => parseSecretsFile(file), FORMAT, "line 3", "invalid_key");
  assert.deepEqual(
    err.details.map((d) => [d.field, d.code]),
    [
      ["line 3", "invalid_key"],
      ["A", "duplicate_key"],
      ["A", "value_too_large"],
    ],
  );
  const many = HEADER + Array.from({ length: 50 }, () => `${PLANT}\n`).join("");
  const capped = expectSecretsError(() => parseSecretsFile(many), FORMAT, "line 2", "invalid_line");
  assert.equal(capped.details.length, MAX_REPORTED_PROBLEMS);
  assert.match(capped.message, /and 19 more/);
});
