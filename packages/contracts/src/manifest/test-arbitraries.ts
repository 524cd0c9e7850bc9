// Test-only fast-check arbitraries for manifests (not exported from index.ts).
//
// `validManifestObject` produces plain objects that smol-toml can stringify and that
// the validator must accept: every optional key is sometimes present, sometimes not,
// and cross-field rules (unique ports, resolvable health ports, one writer per volume,
// scaling.max <= 1 with mounts) hold by construction.

import fc from "fast-check";

type Obj = Record<string, unknown>;

const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/);
const text = fc.string({ unit: "grapheme", maxLength: 12 }).filter((s) => !s.includes("\0"));
const varKey = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,6}$/);
const vars = fc.dictionary(varKey, text, { maxKeys: 3 });
const absPath = fc
  .array(fc.stringMatching(/^[a-z0-9_-]{1,6}$/), { minLength: 1, maxLength: 3 })
  .map((s) => `/${s.join("/")}`);
const seconds = (min: number) => fc.integer({ min, max: 3600 });
const repo = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+){0,2}$/);
const hex64 = fc.stringMatching(/^[a-f0-9]{64}$/);

const imageRef = fc.oneof(
  fc.tuple(repo, fc.stringMatching(/^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,10}$/)).map(([n, t]) => `${n}:${t}`),
  fc.tuple(repo, hex64).map(([n, d]) => `registry.example.com/team/${n}@sha256:${d}`),
  fc.constantFrom("nginx:1.25", "localhost:5000/app:dev", "ghcr.io/acme/shop:1.2.3"),
);

const memory = fc.oneof(
  fc.integer({ min: 64, max: 65_536 }).map((n) => `${n}Mi`),
  fc.integer({ min: 1, max: 256 }).map((n) => `${n}Gi`),
);
const gi = fc.integer({ min: 1, max: 1000 }).map((n) => `${n}Gi`);
const cpu = fc.oneof(fc.integer({ min: 1, max: 64 }), fc.double({ min: 0.01, max: 64, noNaN: true }));

const port = fc.record(
  { name, internal: fc.integer({ min: 1, max: 65_535 }), protocol: fc.constant("tcp") },
  { requiredKeys: ["internal"] },
);
const ports = fc
  .uniqueArray(port, { selector: (p) => p.internal, maxLength: 3 })
  .filter((ps) => new Set(ps.map((p) => p.name ?? `p${p.internal}`)).size === ps.length);

const timings = fc.record(
  {
    interval_seconds: seconds(1),
    timeout_seconds: seconds(1),
    grace_period_seconds: seconds(0),
    success_threshold: fc.integer({ min: 1, max: 100 }),
    failure_threshold: fc.integer({ min: 1, max: 100 }),
  },
  { requiredKeys: [] },
);

function health(ps: { name?: string; internal: number }[]): fc.Arbitrary<Obj | undefined> {
  if (ps.length === 0) return fc.constant(undefined);
  const refs = ps.flatMap((p) => (p.name ? [p.name, p.internal] : [`p${p.internal}`, p.internal]));
  const portRef = fc.option(fc.constantFrom(...refs), { nil: undefined });
  const kind = fc.oneof(
    fc.constant({}),
    fc.constant({ type: "tcp" }),
    absPath.map((path) => ({ type: "http", path })),
  );
  return fc.option(
    fc
      .tuple(kind, portRef, timings)
      .map(([k, p, t]) => ({ ...k, ...(p === undefined ? {} : { port: p }), ...t })),
    { nil: undefined },
  );
}

const restart = fc.oneof(
  fc.constant({}),
  fc.record(
    { policy: fc.constantFrom("always", "never"), backoff_seconds: seconds(0) },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      policy: fc.constant("on-failure"),
      max_retries: fc.integer({ min: 0, max: 1000 }),
      backoff_seconds: seconds(0),
    },
    { requiredKeys: ["policy"] },
  ),
);

const scaling = fc
  .record(
    { min: fc.integer({ min: 0, max: 100 }), max: fc.integer({ min: 0, max: 100 }) },
    { requiredKeys: [] },
  )
  .filter((s) => (s.max ?? s.min ?? 1) >= (s.min ?? 1));

const common = {
  workdir: absPath,
  user: fc.constantFrom("app", "1000", "1000:1000", "www-data:www-data"),
  vars,
  prestart: fc.array(fc.constantFrom("./migrate", "echo hi", "sh -c 'true'"), { maxLength: 2 }),
  prestart_timeout_seconds: seconds(1),
};

const process = ports.chain((ps) =>
  fc.record(
    {
      ...common,
      command: fc
        .array(fc.constantFrom("node", "server.js", "--port", "8080", ""), { maxLength: 3 })
        .map((c) => ["run", ...c]),
      restart,
      resources: fc.record({ memory, cpu, disk: gi }, { requiredKeys: ["memory"] }),
      scaling,
      ports: fc.constant(ps),
      health: health(ps),
      secrets: fc.record({ required: fc.boolean() }, { requiredKeys: [] }),
    },
    // ports is always present (maybe empty) because health was generated against it.
    { requiredKeys: ["resources", "ports"] },
  ),
);

const volume = fc.record(
  { name, size: gi, filesystem: fc.constant("ext4"), backup_enabled: fc.boolean() },
  { requiredKeys: ["name", "size"] },
);

const base = fc.record(
  {
    schema_version: fc.constant("v1"),
    app: fc.record({ name, description: text }, { requiredKeys: [] }),
    image: fc.record(
      { ref: imageRef, pull_policy: fc.constantFrom("if_not_present", "always") },
      { requiredKeys: ["ref"] },
    ),
    env: fc.record(common, { requiredKeys: [] }),
    processes: fc.dictionary(name, process, { minKeys: 1, maxKeys: 3 }),
    volumes: fc.uniqueArray(volume, { selector: (v) => v.name, maxLength: 3 }),
  },
  { requiredKeys: ["schema_version", "image", "processes"] },
);

/** A valid manifest as a plain object, with volumes mounted by at most one process each. */
export const validManifestObject: fc.Arbitrary<Obj> = base.chain((m) => {
  const vols = (m.volumes ?? []) as { name: string }[];
  const owners = fc.array(fc.record({ owner: fc.nat(), used: fc.boolean(), ro: fc.boolean() }), {
    minLength: vols.length,
    maxLength: vols.length,
  });
  return owners.map((picks) => {
    const out = structuredClone(m) as Obj;
    const procs = out.processes as Record<string, Obj>;
    const names = Object.keys(procs);
    picks.forEach((pick, i) => {
      const vol = vols[i];
      if (!pick.used || !vol) return;
      const owner = procs[names[pick.owner % names.length] as string] as Obj;
      if (!Array.isArray(owner.mounts)) owner.mounts = [];
      (owner.mounts as Obj[]).push({
        volume: vol.name,
        path: `/mnt/${vol.name}`,
        ...(pick.ro ? { read_only: true } : {}),
      });
      owner.scaling = { max: 1 }; // the replica limit
    });
    return out;
  });
});

/** Any value smol-toml can write as a TOML value (no null/undefined). */
export const tomlValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.string(),
    fc.integer(),
    fc.double({ noNaN: false }),
    fc.boolean(),
    fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie("value"), { maxKeys: 3 }),
  ),
})).value;

/** A seeded Fisher–Yates shuffle (mulberry32), so fast-check can shrink the seed. */
export function shuffler(seed: number): <T>(xs: T[]) => T[] {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return <T>(xs: T[]) => {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  };
}

/** Rebuilds `v` with every object's keys (and the volumes list) in shuffled order. */
export function reorder(v: unknown, shuffle: <T>(xs: T[]) => T[], key = ""): unknown {
  if (Array.isArray(v)) {
    const items = v.map((x) => reorder(x, shuffle));
    return key === "volumes" ? shuffle(items) : items;
  }
  if (v !== null && typeof v === "object" && !(v instanceof Date)) {
    const out: Obj = {};
    for (const k of shuffle(Object.keys(v))) out[k] = reorder((v as Obj)[k], shuffle, k);
    return out;
  }
  return v;
}

/** Re-lays out TOML text line by line: indentation, trailing comments, blank lines. */
export function decorate(toml: string, shuffle: <T>(xs: T[]) => T[]): string {
  const pads = ["", " ", "  ", "\t"];
  return toml
    .split("\n")
    .map((line, i) => {
      const [pad, tail, gap] = shuffle([0, 1, 2, 3]).slice(0, 3) as [number, number, number];
      const lead = line === "" ? "" : (pads[pad] as string);
      const comment = line !== "" && tail % 2 === 0 ? `  # note ${i} = "x" [y]` : "";
      return `${gap === 0 ? "\n# spacer\n" : ""}${lead}${line}${comment}`;
    })
    .join(newlineFor(toml));
}

function newlineFor(toml: string): string {
  // CRLF is legal TOML; use it for some documents (chosen by content, so deterministic).
  return toml.length % 2 === 0 ? "\r\n" : "\n";
}
