// Request bodies derived from an operation's JSON schema, for the bad-input
// property test: valid-shaped ones (which may still break a rule the schema
// cannot express), and ones broken on purpose. Not used in production.
import fc from "fast-check";
import type { Schema } from "./openapi-kit.ts";

const json = fc.jsonValue({ maxDepth: 2 });

/** A value shaped like `schema`: the right types and required keys, values within simple bounds. */
export function shaped(schema: Schema, depth = 0): fc.Arbitrary<unknown> {
  if (depth > 4) return fc.constant(null);
  if (Array.isArray(schema.enum) && schema.enum.length > 0)
    return fc.constantFrom(...(schema.enum as unknown[]));
  if ("const" in schema) return fc.constant(schema.const);
  const alternatives = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (alternatives && alternatives.length > 0)
    return fc.oneof(...alternatives.map((s) => shaped(s, depth + 1)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "string": {
      const min = Number(schema.minLength ?? 0);
      const max = Math.max(min, Math.min(Number(schema.maxLength ?? 40), 80));
      return fc.oneof(
        fc.string({ minLength: min, maxLength: max }),
        fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
        fc.constantFrom("web", "prod", "api.example.com", "linux", `sha256:${"a".repeat(64)}`),
      );
    }
    case "integer":
      return fc.integer({
        min: Math.max(Number(schema.minimum ?? -1000), -(2 ** 40)),
        max: Math.min(Number(schema.maximum ?? 100_000), 2 ** 40),
      });
    case "number":
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array": {
      const items = (schema.items ?? {}) as Schema;
      const min = Number(schema.minItems ?? 0);
      return fc.array(shaped(items, depth + 1), {
        minLength: min,
        maxLength: Math.max(min, Math.min(Number(schema.maxItems ?? 3), 3)),
      });
    }
    case "object":
      return shapedObject(schema, depth);
    default:
      return json;
  }
}

function shapedObject(schema: Schema, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  const required = new Set((schema.required ?? []) as string[]);
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [k, s] of Object.entries(props)) record[k] = shaped(s, depth + 1);
  const requiredKeys = Object.keys(props).filter((k) => required.has(k));
  return fc.record(record, { requiredKeys });
}

/** Keys of the top-level object schema, and which of them are required. */
function keysOf(schema: Schema): { keys: string[]; required: string[] } {
  const keys = Object.keys((schema.properties ?? {}) as object);
  return { keys, required: ((schema.required ?? []) as string[]).filter((k) => keys.includes(k)) };
}

const wrongType = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.boolean(),
  fc.string({ maxLength: 10 }),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
);

/** One body per run: random JSON, valid-shaped, missing a required key, a wrong-typed key, an extra key. */
export function bodies(schema: Schema): fc.Arbitrary<{ kind: string; body: unknown }> {
  const { keys, required } = keysOf(schema);
  const valid = shaped(schema);
  const kinds: fc.Arbitrary<{ kind: string; body: unknown }>[] = [
    json.map((body) => ({ kind: "random json", body })),
    valid.map((body) => ({ kind: "valid-shaped", body })),
    fc
      .tuple(
        valid,
        fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !keys.includes(k)),
        json,
      )
      .map(([b, k, v]) => ({ kind: "extra field", body: isObject(b) ? { ...b, [k]: v } : b })),
  ];
  if (required.length > 0) {
    kinds.push(
      fc.tuple(valid, fc.constantFrom(...required)).map(([b, k]) => {
        const copy = isObject(b) ? { ...b } : {};
        delete copy[k];
        return { kind: `missing ${k}`, body: copy };
      }),
    );
  }
  if (keys.length > 0) {
    kinds.push(
      fc.tuple(valid, fc.constantFrom(...keys), wrongType).map(([b, k, v]) => ({
        kind: `wrong type for ${k}`,
        body: { ...(isObject(b) ? b : {}), [k]: v },
      })),
    );
  }
  return fc.oneof(...kinds);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
