// The whole document: top-level sections, volumes, cross-process checks, and the
// assembly of the normalised manifest.

import { MANIFEST_ERROR_CODES as E, ErrorSink, type ManifestError } from "./errors.ts";
import { readCommon, readQuantity } from "./fields.ts";
import { readProcess } from "./process.ts";
import { isTable, own, Reader, show, type Table, typeName } from "./read.ts";
import {
  MANIFEST_DEFAULTS as D,
  MANIFEST_SCHEMA_VERSION,
  type NormalisedEnv,
  type NormalisedManifest,
  type NormalisedProcess,
  type NormalisedVolume,
  type PullPolicy,
} from "./types.ts";
import { APP_NAME, GIB_QUANTITY, imageRefProblem, MIN_GIB_BYTES, PROCESS_NAME } from "./values.ts";

/** Result of checking a parsed manifest. Errors are sorted (see ErrorSink.sorted). */
export type ManifestNormaliseResult =
  | { ok: true; manifest: NormalisedManifest }
  | { ok: false; errors: ManifestError[] };

const TOP_KEYS = ["schema_version", "app", "image", "env", "processes", "volumes"];

/**
 * Checks a parsed manifest (a TOML table, or the same shape from JSON) against every
 * v1 rule and, when it passes, applies the defaults. Never throws on any input.
 */
export function normaliseManifest(value: unknown): ManifestNormaliseResult {
  const sink = new ErrorSink();
  const r = new Reader(sink);
  // The version decides which keys exist, so it is checked before anything else;
  // another version's rules are unknown here and judging its keys would only mislead.
  const version = isTable(value) ? own(value, "schema_version") : undefined;
  if (version !== undefined && version !== MANIFEST_SCHEMA_VERSION) {
    sink.add(
      ["schema_version"],
      E.E_SCHEMA_VERSION,
      `unsupported schema_version ${show(version)}; expected "v1"`,
    );
    return { ok: false, errors: sink.sorted() };
  }
  const doc = r.table(value, [], { keys: TOP_KEYS });
  if (!doc) return { ok: false, errors: sink.sorted() };
  if (version === undefined) {
    sink.add(
      ["schema_version"],
      E.E_REQUIRED,
      `is required; set schema_version = "${MANIFEST_SCHEMA_VERSION}"`,
    );
  }

  const app = readApp(r, own(doc, "app"));
  const image = readImage(r, own(doc, "image"));
  const env = readEnv(r, own(doc, "env"));
  const volumes = readVolumes(r, own(doc, "volumes"));
  const processes = readProcesses(r, own(doc, "processes"), env.prestart_timeout_seconds, volumes.declared);

  if (sink.count > 0) return { ok: false, errors: sink.sorted() };
  return {
    ok: true,
    manifest: {
      schema_version: MANIFEST_SCHEMA_VERSION,
      app,
      image,
      env,
      processes,
      volumes: volumes.volumes,
    },
  };
}

function readApp(r: Reader, raw: unknown): NormalisedManifest["app"] {
  const t = r.table(raw, ["app"], { keys: ["name", "description"] }) ?? {};
  const name = r.string(t, "name", ["app"], {
    pattern: APP_NAME,
    hint: "1-63 characters matching ^[a-z][a-z0-9-]*$",
  });
  const description = r.string(t, "description", ["app"], { maxLength: 256 });
  return { ...(name !== undefined ? { name } : {}), ...(description !== undefined ? { description } : {}) };
}

function readImage(r: Reader, raw: unknown): NormalisedManifest["image"] {
  const t = r.table(raw, ["image"], { keys: ["ref", "pull_policy"] }, true);
  if (!t) return { ref: "", pull_policy: D.pullPolicy };
  const ref = r.string(t, "ref", ["image"], { required: true });
  if (ref !== undefined) {
    const problem = imageRefProblem(ref);
    if (problem) r.sink.add(["image", "ref"], E.E_PATTERN, `${show(ref)} ${problem}`);
  }
  const pull = r.oneOf<PullPolicy>(t, "pull_policy", ["image"], ["if_not_present", "always"]);
  return { ref: ref ?? "", pull_policy: pull ?? D.pullPolicy };
}

function readEnv(r: Reader, raw: unknown): NormalisedEnv {
  const t =
    r.table(raw, ["env"], { keys: ["vars", "workdir", "user", "prestart", "prestart_timeout_seconds"] }) ??
    {};
  const c = readCommon(r, t, ["env"]);
  return {
    vars: c.vars,
    ...(c.workdir !== undefined ? { workdir: c.workdir } : {}),
    ...(c.user !== undefined ? { user: c.user } : {}),
    prestart: c.prestart,
    prestart_timeout_seconds: c.prestartTimeoutSeconds ?? D.prestartTimeoutSeconds,
  };
}

/** `declared` holds every volume name written in the file, valid or not, so a typo'd
 * volume is reported once (at the volume) rather than again at each mount. */
function readVolumes(r: Reader, raw: unknown): { volumes: NormalisedVolume[]; declared: Set<string> } {
  const declared = new Set<string>();
  if (raw === undefined) return { volumes: [], declared };
  if (!Array.isArray(raw)) {
    r.sink.add(["volumes"], E.E_TYPE, `must be an array of tables ([[volumes]]), got ${typeName(raw)}`);
    return { volumes: [], declared };
  }
  const volumes: NormalisedVolume[] = [];
  const seen = new Map<string, number>();
  raw.forEach((item: unknown, i) => {
    const p = ["volumes", i];
    const t = r.table(item, p, { keys: ["name", "size", "filesystem", "backup_enabled"] });
    if (!t) return;
    const rawName = own(t, "name");
    if (typeof rawName === "string") declared.add(rawName);
    const name = r.string(t, "name", p, {
      required: true,
      pattern: PROCESS_NAME,
      hint: "a name matching ^[a-z][a-z0-9-]{0,31}$",
    });
    if (name !== undefined) {
      const first = seen.get(name);
      if (first !== undefined) {
        r.sink.add(
          [...p, "name"],
          E.E_DUPLICATE,
          `volume "${name}" is already declared by volumes[${first}]`,
        );
      } else seen.set(name, i);
    }
    const size = readQuantity(r, t, "size", p, {
      pattern: GIB_QUANTITY,
      hint: 'a whole number of Gi such as "10Gi"',
      minBytes: MIN_GIB_BYTES,
      minText: "1Gi",
      required: true,
    });
    const fs = r.string(t, "filesystem", p);
    if (fs !== undefined && fs !== D.volumeFilesystem) {
      r.sink.add([...p, "filesystem"], E.E_UNSUPPORTED, `only "ext4" is supported in v1, got ${show(fs)}`);
    }
    const backup = r.boolean(t, "backup_enabled", p);
    if (name === undefined || size === undefined) return;
    volumes.push({
      name,
      size,
      filesystem: D.volumeFilesystem,
      backup_enabled: backup ?? D.volumeBackupEnabled,
    });
  });
  volumes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { volumes, declared };
}

function readProcesses(
  r: Reader,
  raw: unknown,
  envPrestartTimeout: number,
  volumes: Set<string>,
): Record<string, NormalisedProcess> {
  const out: Record<string, NormalisedProcess> = {};
  if (raw === undefined || (isTable(raw) && Object.keys(raw).length === 0)) {
    r.sink.add(["processes"], E.E_REQUIRED, "at least one [processes.<name>] table is required");
    return out;
  }
  if (!isTable(raw)) {
    r.sink.add(["processes"], E.E_TYPE, `must be a table of process types, got ${typeName(raw)}`);
    return out;
  }
  // Sorted so that "already mounted by" always names the same process.
  const mountedBy = new Map<string, string>();
  for (const name of Object.keys(raw).sort()) {
    if (!PROCESS_NAME.test(name)) {
      r.sink.add(["processes", name], E.E_PATTERN, "process type names must match ^[a-z][a-z0-9-]{0,31}$");
    }
    const read = readProcess(r, (raw as Table)[name], name, envPrestartTimeout);
    if (!read) continue;
    for (const { index, volume } of read.mounts) {
      if (volume === undefined) continue;
      const at = ["processes", name, "mounts", index, "volume"];
      if (!volumes.has(volume)) {
        r.sink.add(at, E.E_REFERENCE, `no [[volumes]] entry is named ${show(volume)}`);
        continue;
      }
      const other = mountedBy.get(volume);
      if (other !== undefined && other !== name) {
        r.sink.add(
          at,
          E.E_DUPLICATE,
          `volume "${volume}" is already mounted by process type '${other}'; a volume has a single writer`,
        );
      } else mountedBy.set(volume, name);
    }
    if (PROCESS_NAME.test(name)) out[name] = read.process;
  }
  return out;
}
