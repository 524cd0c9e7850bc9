// Field groups shared by `[env]` and `[processes.<name>]`, and quantity fields.

import { MANIFEST_ERROR_CODES as E, type PathSegments } from "./errors.ts";
import { isTable, own, type Reader, type Table, typeName } from "./read.ts";
import {
  ABSOLUTE_PATH,
  canonicalQuantity,
  MAX_QUANTITY_BYTES,
  quantityBytes,
  USER,
  VAR_KEY,
} from "./values.ts";

/** Upper bound for every `*_seconds` field; the spec gives only lower bounds. */
export const MAX_SECONDS = 86_400;

/** `vars`: a table of `^[A-Z_][A-Z0-9_]*$` keys to string values. Values never appear in messages. */
export function readVars(r: Reader, t: Table, path: PathSegments): Record<string, string> {
  const at = [...path, "vars"];
  const v = own(t, "vars");
  const out: Record<string, string> = {};
  if (v === undefined) return out;
  if (!isTable(v)) {
    r.sink.add(at, E.E_TYPE, `must be a table of strings, got ${typeName(v)}`);
    return out;
  }
  for (const key of Object.keys(v).sort()) {
    const value = v[key];
    if (!VAR_KEY.test(key)) {
      r.sink.add([...at, key], E.E_PATTERN, "variable names must match ^[A-Z_][A-Z0-9_]*$");
    }
    if (typeof value !== "string") {
      r.sink.add([...at, key], E.E_TYPE, `must be a string, got ${typeName(value)}`);
    } else if (value.includes("\0")) {
      r.sink.add([...at, key], E.E_PATTERN, "must not contain NUL characters");
    } else if (VAR_KEY.test(key)) {
      out[key] = value;
    }
  }
  return out;
}

/** The keys `[env]` and processes share, read the same way in both. */
export interface CommonFields {
  vars: Record<string, string>;
  workdir: string | undefined;
  user: string | undefined;
  prestart: string[];
  prestartTimeoutSeconds: number | undefined;
}

export function readCommon(r: Reader, t: Table, path: PathSegments): CommonFields {
  return {
    vars: readVars(r, t, path),
    workdir: r.string(t, "workdir", path, {
      pattern: ABSOLUTE_PATH,
      hint: "an absolute path",
      maxLength: 4096,
    }),
    user: r.string(t, "user", path, {
      pattern: USER,
      hint: 'a user name or uid, optionally with ":group" or ":gid"',
      maxLength: 256,
    }),
    // Each step is one command line; the runtime decides how it is run.
    prestart: r.stringArray(t, "prestart", path, { item: { nonEmpty: true } }) ?? [],
    prestartTimeoutSeconds: r.integer(t, "prestart_timeout_seconds", path, { min: 1, max: MAX_SECONDS }),
  };
}

/** How to read one quantity field (`memory`, `disk`, `size`). */
export interface QuantitySpec {
  pattern: RegExp;
  hint: string;
  minBytes: bigint;
  minText: string;
  required?: boolean;
}

/** Reads a quantity and returns its canonical spelling (see canonicalQuantity). */
export function readQuantity(
  r: Reader,
  t: Table,
  key: string,
  path: PathSegments,
  spec: QuantitySpec,
): string | undefined {
  const raw = r.string(t, key, path, {
    pattern: spec.pattern,
    hint: spec.hint,
    maxLength: 32,
    ...(spec.required ? { required: true } : {}),
  });
  if (raw === undefined) return undefined;
  const bytes = quantityBytes(raw) as bigint; // the pattern already matched
  if (bytes < spec.minBytes) {
    r.sink.add([...path, key], E.E_RANGE, `must be at least ${spec.minText}, got ${raw}`);
    return undefined;
  }
  if (bytes > MAX_QUANTITY_BYTES) {
    r.sink.add([...path, key], E.E_RANGE, `is too large: ${raw}`);
    return undefined;
  }
  return canonicalQuantity(bytes);
}
