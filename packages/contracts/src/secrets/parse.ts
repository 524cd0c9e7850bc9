/**
 * Parser of the `platform_env_v1` secrets file (spec §9.1). It reports every
 * problem it finds (bounded), naming lines and keys but never a value: a line
 * that does not split into a valid key and a value is described only by its
 * number, because it may well be a value wrapped onto its own line.
 */
import { Buffer } from "node:buffer";
import { ProblemCollector } from "./errors.ts";
import { DEFAULT_SECRETS_LIMITS, type SecretsLimits } from "./limits.ts";
import { decodeSecretValue, isWellFormedText, SECRET_KEY_PATTERN, SECRETS_HEADER } from "./value.ts";

/** Decoded secrets: key → value bytes. */
export type SecretValues = Map<string, Buffer>;

// fatal: invalid UTF-8 throws instead of becoming U+FFFD. ignoreBOM: a BOM stays
// in the text, so a BOM-prefixed header is not "exactly" the header.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

const HEADER_MESSAGE = `the first non-empty line must be exactly "${SECRETS_HEADER}"`;
const LINE_MESSAGE = "expected KEY=VALUE, a comment starting with # or an empty line";
const KEY_MESSAGE = `key must match ${SECRET_KEY_PATTERN.source}`;

/**
 * Parses a secrets file into decoded values, in file order.
 * @throws SecretsFormatError `invalid_secrets_format` or `secrets_too_large`
 */
export function parseSecretsFile(
  input: string | Uint8Array,
  limits: SecretsLimits = DEFAULT_SECRETS_LIMITS,
): SecretValues {
  const problems = new ProblemCollector();
  const bytes = toBytes(input, problems);
  problems.throwIfAny();
  if (bytes.length > limits.maxFileBytes) {
    problems.add("file", "file_too_large", `file is ${bytes.length} bytes; at most ${limits.maxFileBytes}`);
    problems.throwIfAny();
  }

  const values: SecretValues = new Map();
  const firstLine = new Map<string, number>();
  let headerSeen = false;
  let overflowKey: string | null = null;
  for (const { number, text, problem } of lines(bytes)) {
    const where = `line ${number}`;
    if (problem !== undefined) {
      problems.add(where, problem.code, problem.message);
      if (!headerSeen) break; // without a header, nothing after it is meaningful
      continue;
    }
    if (!headerSeen) {
      if (text === "") continue;
      if (text !== SECRETS_HEADER) {
        const bom = text.startsWith("\uFEFF") ? " (remove the byte order mark)" : "";
        problems.add(where, "missing_header", HEADER_MESSAGE + bom);
        break;
      }
      headerSeen = true;
      continue;
    }
    if (text === "" || text.startsWith("#")) continue;

    const eq = text.indexOf("=");
    if (eq < 0) {
      problems.add(where, "invalid_line", LINE_MESSAGE);
      continue;
    }
    const key = text.slice(0, eq);
    if (!SECRET_KEY_PATTERN.test(key)) {
      problems.add(where, "invalid_key", KEY_MESSAGE);
      continue;
    }
    if (key.length > limits.maxKeyLength) {
      problems.add(
        `${key.slice(0, limits.maxKeyLength)}…`,
        "key_too_long",
        `${where}: key is ${key.length} characters; at most ${limits.maxKeyLength}`,
      );
      continue;
    }
    const seenAt = firstLine.get(key);
    if (seenAt !== undefined) {
      problems.add(key, "duplicate_key", `${where}: duplicate key (first on line ${seenAt})`);
      continue;
    }
    firstLine.set(key, number);
    if (firstLine.size === limits.maxKeys + 1) overflowKey = key;

    const value = decodeSecretValue(text.slice(eq + 1), limits);
    if (value.ok) values.set(key, value.bytes);
    else problems.add(key, value.code, `${where}: ${value.message}`);
  }

  if (!headerSeen && problems.empty)
    problems.add("file", "missing_header", `file is empty; ${HEADER_MESSAGE}`);
  if (overflowKey !== null) {
    problems.add(
      overflowKey,
      "too_many_keys",
      `file has ${firstLine.size} keys; at most ${limits.maxKeys} (this is key ${limits.maxKeys + 1})`,
    );
  }
  problems.throwIfAny();
  return values;
}

interface Line {
  number: number;
  text: string;
  problem?: { code: "invalid_utf8" | "lone_cr"; message: string };
}

/** Splits on LF (stripping one CR before it) and decodes each line as strict UTF-8. */
function* lines(bytes: Buffer): Generator<Line> {
  let start = 0;
  for (let number = 1; start <= bytes.length; number++) {
    const lf = bytes.indexOf(0x0a, start);
    const terminated = lf >= 0;
    const end = terminated ? lf : bytes.length;
    // Nothing after the final LF: the trailing newline, not a line.
    if (!terminated && start === bytes.length && number > 1) return;
    let raw = bytes.subarray(start, end);
    if (terminated && raw.at(-1) === 0x0d) raw = raw.subarray(0, -1);
    start = end + 1;
    let text: string;
    try {
      text = utf8.decode(raw);
    } catch {
      yield { number, text: "", problem: { code: "invalid_utf8", message: "line is not valid UTF-8" } };
      continue;
    }
    if (text.includes("\r")) {
      yield {
        number,
        text: "",
        problem: { code: "lone_cr", message: "carriage return not followed by a line feed" },
      };
      continue;
    }
    yield { number, text };
  }
}

/** The file's bytes. A string with a lone surrogate is not UTF-8-encodable: reported by line. */
function toBytes(input: string | Uint8Array, problems: ProblemCollector): Buffer {
  if (typeof input !== "string") return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (!isWellFormedText(input)) {
    const number = input.split("\n").findIndex((line) => !isWellFormedText(line)) + 1;
    problems.add(`line ${number}`, "invalid_utf8", "line is not valid UTF-8 (lone surrogate)");
  }
  return Buffer.from(input, "utf8");
}
