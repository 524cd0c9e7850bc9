// Typed field readers over a parsed TOML value.
//
// Each reader checks one field, reports what is wrong into the shared sink and
// returns `undefined` for anything unusable, so the walk can go on and report
// every error in the document rather than stopping at the first.

import { MANIFEST_ERROR_CODES as E, type ErrorSink, type PathSegments } from "./errors.ts";

/** A TOML table as smol-toml returns it (null-prototype object). */
export type Table = Record<string, unknown>;

/** True for a TOML table: an object that is neither an array nor a date. */
export function isTable(v: unknown): v is Table {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** The TOML type name of a value, for messages. */
export function typeName(v: unknown): string {
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "boolean";
  if (typeof v === "bigint") return "integer";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "float";
  if (Array.isArray(v)) return "array";
  if (v instanceof Date) return "datetime";
  if (isTable(v)) return "table";
  return typeof v;
}

/** A short, safe rendering of a user value for messages. */
export function show(v: unknown): string {
  // Only primitives are rendered: parsed tables have no prototype (String() would throw).
  const s =
    typeof v === "string"
      ? JSON.stringify(v)
      : typeof v === "number" || typeof v === "boolean" || typeof v === "bigint"
        ? String(v)
        : `a ${typeName(v)}`;
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

export interface TableSpec {
  /** Keys the schema defines at this level. */
  keys: readonly string[];
  /** Keys v1 recognises only to reject (E_UNSUPPORTED), with the reason. */
  unsupported?: Readonly<Record<string, string>>;
}

export interface StringOpts {
  required?: boolean;
  pattern?: RegExp;
  /** Said in the E_PATTERN message: "must be <hint>". */
  hint?: string;
  maxLength?: number;
  /** Reject the empty string (E_PATTERN). */
  nonEmpty?: boolean;
}

export interface NumberOpts {
  required?: boolean;
  min: number;
  max: number;
  /** Exclusive lower bound instead of inclusive (cpu: 0 < cpu). */
  minExclusive?: boolean;
}

/** Bound to one sink; every method takes the path of the table that holds the field. */
export class Reader {
  constructor(readonly sink: ErrorSink) {}

  /**
   * Returns `v` if it is a table, reporting unknown and unsupported keys; else
   * reports E_TYPE (or E_REQUIRED when `required` and absent) and returns undefined.
   */
  table(v: unknown, path: PathSegments, spec: TableSpec, required = false): Table | undefined {
    if (v === undefined) {
      if (required) this.sink.add(path, E.E_REQUIRED, "is required");
      return undefined;
    }
    if (!isTable(v)) {
      this.sink.add(path, E.E_TYPE, `must be a table, got ${typeName(v)}`);
      return undefined;
    }
    for (const key of Object.keys(v)) {
      const reason =
        spec.unsupported && Object.hasOwn(spec.unsupported, key) ? spec.unsupported[key] : undefined;
      if (reason !== undefined) this.sink.add([...path, key], E.E_UNSUPPORTED, reason);
      else if (!spec.keys.includes(key)) this.sink.add([...path, key], E.E_UNKNOWN_KEY, "unknown key");
    }
    return v;
  }

  string(t: Table, key: string, path: PathSegments, opts: StringOpts = {}): string | undefined {
    const at = [...path, key];
    const v = own(t, key);
    if (v === undefined) {
      if (opts.required) this.sink.add(at, E.E_REQUIRED, "is required");
      return undefined;
    }
    if (typeof v !== "string") {
      this.sink.add(at, E.E_TYPE, `must be a string, got ${typeName(v)}`);
      return undefined;
    }
    return this.checkString(v, at, opts);
  }

  /** Pattern, length and NUL checks shared by fields and array elements. */
  checkString(v: string, at: PathSegments, opts: StringOpts): string | undefined {
    if (v.includes("\0")) {
      this.sink.add(at, E.E_PATTERN, "must not contain NUL characters");
      return undefined;
    }
    if (opts.nonEmpty && v === "") {
      this.sink.add(at, E.E_PATTERN, "must not be empty");
      return undefined;
    }
    if (opts.maxLength !== undefined && [...v].length > opts.maxLength) {
      this.sink.add(at, E.E_RANGE, `must be at most ${opts.maxLength} characters`);
      return undefined;
    }
    if (opts.pattern && !opts.pattern.test(v)) {
      this.sink.add(
        at,
        E.E_PATTERN,
        `must be ${opts.hint ?? `a string matching ${opts.pattern}`}, got ${show(v)}`,
      );
      return undefined;
    }
    return v;
  }

  integer(t: Table, key: string, path: PathSegments, opts: NumberOpts): number | undefined {
    const at = [...path, key];
    const v = own(t, key);
    if (v === undefined) {
      if (opts.required) this.sink.add(at, E.E_REQUIRED, "is required");
      return undefined;
    }
    // smol-toml yields bigint only for integers beyond 2^53, which no field allows.
    if (typeof v === "bigint") {
      this.sink.add(at, E.E_RANGE, `must be between ${opts.min} and ${opts.max}, got ${v}`);
      return undefined;
    }
    if (typeof v !== "number" || !Number.isInteger(v)) {
      this.sink.add(at, E.E_TYPE, `must be an integer, got ${typeName(v)}`);
      return undefined;
    }
    return this.inRange(v, at, opts);
  }

  /** Integer or float (TOML `cpu = 2` and `cpu = 2.0` both mean two cores). */
  number(t: Table, key: string, path: PathSegments, opts: NumberOpts): number | undefined {
    const at = [...path, key];
    const v = own(t, key);
    if (v === undefined) {
      if (opts.required) this.sink.add(at, E.E_REQUIRED, "is required");
      return undefined;
    }
    if (typeof v === "bigint") {
      this.sink.add(at, E.E_RANGE, `must be ${rangeText(opts)}, got ${v}`);
      return undefined;
    }
    if (typeof v !== "number") {
      this.sink.add(at, E.E_TYPE, `must be a number, got ${typeName(v)}`);
      return undefined;
    }
    return this.inRange(v, at, opts);
  }

  private inRange(v: number, at: PathSegments, opts: NumberOpts): number | undefined {
    const low = opts.minExclusive ? v > opts.min : v >= opts.min;
    if (!Number.isFinite(v) || !low || v > opts.max) {
      this.sink.add(at, E.E_RANGE, `must be ${rangeText(opts)}, got ${show(v)}`);
      return undefined;
    }
    return v;
  }

  boolean(t: Table, key: string, path: PathSegments): boolean | undefined {
    const v = own(t, key);
    if (v === undefined) return undefined;
    if (typeof v !== "boolean") {
      this.sink.add([...path, key], E.E_TYPE, `must be a boolean, got ${typeName(v)}`);
      return undefined;
    }
    return v;
  }

  /** A string that must be one of `values` (E_ENUM otherwise). */
  oneOf<T extends string>(t: Table, key: string, path: PathSegments, values: readonly T[]): T | undefined {
    const v = this.string(t, key, path);
    if (v === undefined) return undefined;
    if (!(values as readonly string[]).includes(v)) {
      this.sink.add(
        [...path, key],
        E.E_ENUM,
        `must be one of ${values.map((x) => `"${x}"`).join(", ")}, got ${show(v)}`,
      );
      return undefined;
    }
    return v as T;
  }

  /** An array of strings, each checked with `item`; undefined if any element is bad. */
  stringArray(
    t: Table,
    key: string,
    path: PathSegments,
    opts: { minItems?: number; item?: StringOpts } = {},
  ): string[] | undefined {
    const at = [...path, key];
    const v = own(t, key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) {
      this.sink.add(at, E.E_TYPE, `must be an array of strings, got ${typeName(v)}`);
      return undefined;
    }
    if (opts.minItems !== undefined && v.length < opts.minItems) {
      this.sink.add(at, E.E_RANGE, `must have at least ${opts.minItems} element(s)`);
      return undefined;
    }
    let ok = true;
    const out: string[] = [];
    v.forEach((x: unknown, i) => {
      if (typeof x !== "string") {
        this.sink.add([...at, i], E.E_TYPE, `must be a string, got ${typeName(x)}`);
        ok = false;
        return;
      }
      const s = this.checkString(x, [...at, i], opts.item ?? {});
      if (s === undefined) ok = false;
      else out.push(s);
    });
    return ok ? out : undefined;
  }
}

function rangeText(o: NumberOpts): string {
  return o.minExclusive ? `greater than ${o.min} and at most ${o.max}` : `between ${o.min} and ${o.max}`;
}

/** Own property only: parsed tables may hold keys such as `__proto__` or `constructor`. */
export function own(t: Table, key: string): unknown {
  return Object.hasOwn(t, key) ? t[key] : undefined;
}
