// Typed reading of a YAML AST with a source position on every failure, so each
// `config_error` names a line and column (spec delta-ci.md §6.2). The document is
// parsed with the failsafe schema (every scalar a string) and typed here: `on`/`yes`
// stay strings, `3.10` stays "3.10", and only plain `true`/`false` are booleans.

import { KernelError } from "@plfm/kernel";
import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type Scalar } from "yaml";

export interface Pos {
  line: number;
  column: number;
}

export const PIPELINE_PATH = ".delta/pipeline.yml";

/** The config_error for a position in pipeline.yml; the message carries `file:line:column`. */
export function configError(pos: Pos, path: string, message: string): KernelError {
  return new KernelError("config_error", `${PIPELINE_PATH}:${pos.line}:${pos.column}: ${path}: ${message}`, {
    retryable: false,
    details: [{ field: path, code: "config_error", message }],
    extra: { file: PIPELINE_PATH, line: pos.line, column: pos.column },
  });
}

/** A located node; `path` is a readable address such as `jobs[2].needs[0]`. */
export class At {
  constructor(
    readonly node: Node | null,
    readonly path: string,
    readonly pos: Pos,
    private readonly lc: LineCounter,
  ) {}

  fail(message: string): never {
    throw configError(this.pos, this.path, message);
  }

  private child(node: Node | null, path: string, fallback: Pos): At {
    const start = node?.range?.[0];
    return new At(node, path, start === undefined ? fallback : toPos(this.lc, start), this.lc);
  }

  private scalar(what: string): Scalar {
    if (this.node === null || !isScalar(this.node)) this.fail(`expected ${what}`);
    return this.node;
  }

  private plainNull(): boolean {
    const n = this.node;
    return n === null || (isScalar(n) && n.type === "PLAIN" && ["", "~", "null"].includes(String(n.value)));
  }

  string(): string {
    const s = this.scalar("a string");
    if (this.plainNull()) this.fail("expected a string, got nothing");
    return String(s.value);
  }

  bool(): boolean {
    const s = this.scalar("true or false");
    if (s.type === "PLAIN" && (s.value === "true" || s.value === "false")) return s.value === "true";
    return this.fail("expected true or false");
  }

  int(min: number, max: number): number {
    const s = this.scalar(`an integer from ${min} to ${max}`);
    const text = String(s.value);
    if (s.type !== "PLAIN" || !/^-?(0|[1-9][0-9]{0,9})$/.test(text))
      this.fail(`expected an integer from ${min} to ${max}`);
    const n = Number(text);
    if (n < min || n > max) this.fail(`must be from ${min} to ${max}, got ${n}`);
    return n;
  }

  /** The scalar's text as written (for matrix values: `3.10` is not `3.1`). */
  scalarText(): string {
    return String(this.scalar("a scalar (string, number or boolean)").value);
  }

  isScalar(): boolean {
    return this.node !== null && isScalar(this.node);
  }

  isSeq(): boolean {
    return this.node !== null && isSeq(this.node);
  }

  isMap(): boolean {
    return this.node !== null && isMap(this.node);
  }

  list(): At[] {
    if (this.node === null || !isSeq(this.node)) this.fail("expected a list");
    return this.node.items.map((item, i) => this.child(item as Node | null, `${this.path}[${i}]`, this.pos));
  }

  stringList(opts: { min?: number; max?: number } = {}): string[] {
    const items = this.list();
    if (opts.min !== undefined && items.length < opts.min) this.fail(`needs at least ${opts.min} item(s)`);
    if (opts.max !== undefined && items.length > opts.max) this.fail(`holds at most ${opts.max} items`);
    return items.map((i) => i.string());
  }

  /** Entries of a mapping in source order; keys must be strings. */
  entries(): { key: string; keyAt: At; value: At }[] {
    if (this.node === null || !isMap(this.node)) this.fail("expected a mapping");
    return this.node.items.map((pair) => {
      const k = this.child(pair.key as Node | null, this.path, this.pos);
      const key = k.string();
      const sub = this.path === "" ? key : `${this.path}.${key}`;
      const keyAt = new At(k.node, sub, k.pos, this.lc);
      return { key, keyAt, value: this.child(pair.value as Node | null, sub, k.pos) };
    });
  }

  /** A mapping with only the allowed keys; returns a lookup of the present ones. */
  object(allowed: readonly string[], required: readonly string[] = []): Map<string, At> {
    const out = new Map<string, At>();
    for (const e of this.entries()) {
      if (!allowed.includes(e.key)) e.keyAt.fail(`unknown key '${e.key}' (allowed: ${allowed.join(", ")})`);
      out.set(e.key, e.value);
    }
    for (const r of required) if (!out.has(r)) this.fail(`'${r}' is required`);
    return out;
  }
}

function toPos(lc: LineCounter, offset: number): Pos {
  const p = lc.linePos(offset);
  return { line: p.line, column: p.col };
}

/** Parses the text into a root {@link At}; YAML syntax errors become config errors. */
export function readYaml(text: string): At {
  const lc = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lc,
    schema: "failsafe",
    uniqueKeys: true,
    prettyErrors: false,
  });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem)
    throw configError(toPos(lc, problem.pos[0]), "(document)", problem.message.split("\n")[0] ?? "");
  const root = doc.contents as Node | null;
  rejectAliases(root, lc);
  const start = root?.range?.[0] ?? 0;
  return new At(root, "", toPos(lc, start), lc);
}

/** Aliases would let a small file expand into a huge one (and make positions ambiguous). */
function rejectAliases(node: Node | null, lc: LineCounter): void {
  if (node === null) return;
  if (isAlias(node)) {
    throw configError(toPos(lc, node.range?.[0] ?? 0), "(document)", "YAML aliases are not supported");
  }
  if (isMap(node)) {
    for (const p of node.items) {
      rejectAliases(p.key as Node | null, lc);
      rejectAliases(p.value as Node | null, lc);
    }
  } else if (isSeq(node)) {
    for (const i of node.items) rejectAliases(i as Node | null, lc);
  }
}
