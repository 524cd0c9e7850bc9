/**
 * The one error type of the secrets format. Messages and details name keys and
 * line numbers only: a secrets file is user input whose every byte may be a
 * secret, so nothing taken from a value (or from a line we could not split into
 * key and value) is ever copied into an error.
 */

/** Top-level codes (spec §4.1: both are HTTP 400). */
export type SecretsErrorCode = "invalid_secrets_format" | "secrets_too_large";

/** One problem: `field` is a key, `line N`, `file` or `keys`; `code` says which rule failed. */
export interface SecretsProblem {
  field: string;
  code: SecretsProblemCode;
  message: string;
}

/** Per-problem codes; the limit ones make the whole error `secrets_too_large`. */
export type SecretsProblemCode =
  | "invalid_utf8"
  | "missing_header"
  | "lone_cr"
  | "invalid_line"
  | "invalid_key"
  | "duplicate_key"
  | "invalid_value"
  | "invalid_base64"
  | "file_too_large"
  | "too_many_keys"
  | "key_too_long"
  | "value_too_large";

const LIMIT_CODES: ReadonlySet<SecretsProblemCode> = new Set([
  "file_too_large",
  "too_many_keys",
  "key_too_long",
  "value_too_large",
]);

/** Bounds the size of an error response for a file that is wrong on every line. */
export const MAX_REPORTED_PROBLEMS = 20;

/** A rejected secrets file, `{values}` map or merge. */
export class SecretsFormatError extends Error {
  readonly code: SecretsErrorCode;
  readonly details: readonly SecretsProblem[];

  constructor(code: SecretsErrorCode, details: readonly SecretsProblem[], message?: string) {
    super(message ?? summarise(code, details));
    this.name = "SecretsFormatError";
    this.code = code;
    this.details = details;
  }
}

/** True when `err` is a {@link SecretsFormatError} (optionally with `code`). */
export function isSecretsFormatError(err: unknown, code?: SecretsErrorCode): err is SecretsFormatError {
  return err instanceof SecretsFormatError && (code === undefined || err.code === code);
}

function summarise(code: SecretsErrorCode, details: readonly SecretsProblem[]): string {
  const head = code === "secrets_too_large" ? "secrets exceed a limit" : "invalid secrets";
  const first = details[0];
  if (first === undefined) return head;
  const more = details.length > 1 ? ` (and ${details.length - 1} more)` : "";
  return `${head}: ${first.field}: ${first.message}${more}`;
}

/**
 * Collects problems so one response reports all of them (up to
 * {@link MAX_REPORTED_PROBLEMS}). Format problems win over limit problems for
 * the top-level code: a malformed file is not "too large", it is wrong.
 */
export class ProblemCollector {
  readonly #format: SecretsProblem[] = [];
  readonly #limit: SecretsProblem[] = [];

  add(field: string, code: SecretsProblemCode, message: string): void {
    const list = LIMIT_CODES.has(code) ? this.#limit : this.#format;
    if (list.length < MAX_REPORTED_PROBLEMS) list.push({ field, code, message });
  }

  get empty(): boolean {
    return this.#format.length === 0 && this.#limit.length === 0;
  }

  /** Throws when any problem was added. */
  throwIfAny(): void {
    if (this.empty) return;
    const code: SecretsErrorCode = this.#format.length > 0 ? "invalid_secrets_format" : "secrets_too_large";
    // Format problems first so the summary line names the reason for the code.
    throw new SecretsFormatError(code, [...this.#format, ...this.#limit].slice(0, MAX_REPORTED_PROBLEMS));
  }
}
