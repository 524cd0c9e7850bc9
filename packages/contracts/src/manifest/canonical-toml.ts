// `plfm manifest fmt`: canonical TOML.
//
// Decision: fmt writes the *normalised* manifest — every default spelled out,
// derived port names and the resolved health check included — not the input with
// its keys reordered. That makes the output exactly what a release embeds and
// runs, and makes the two properties fmt needs hold by construction:
//   - idempotent: normalise(parse(fmt(x))) = normalise(parse(x)), so fmt(fmt(x)) = fmt(x);
//   - hash-preserving: manifestHash is computed over that same normalised value.
// Comments are not kept (no TOML library here preserves them, so neither design could).
// Empty tables and arrays are left out: absent and empty normalise identically.
//
// Layout: spec §5 order (schema_version, app, image, env, processes sorted by
// name, volumes sorted by name); inside a process, scalars first, then vars,
// restart, resources, scaling, ports, health, mounts, secrets.

import { stringify } from "smol-toml";
import type { ManifestError } from "./errors.ts";
import type { NormalisedEnv, NormalisedManifest, NormalisedProcess } from "./types.ts";
import { validateManifest } from "./validate.ts";

/** Canonical TOML text of a normalised manifest (ends with one newline). */
export function manifestToToml(m: NormalisedManifest): string {
  const doc: Record<string, unknown> = { schema_version: m.schema_version };
  if (m.app.name !== undefined || m.app.description !== undefined) doc.app = { ...m.app };
  doc.image = { ref: m.image.ref, pull_policy: m.image.pull_policy };
  doc.env = envTable(m.env);
  const processes: Record<string, unknown> = {};
  for (const name of Object.keys(m.processes).sort()) {
    processes[name] = processTable(m.processes[name] as NormalisedProcess);
  }
  doc.processes = processes;
  if (m.volumes.length > 0) doc.volumes = m.volumes.map((v) => ({ ...v }));
  // smol-toml writes whole-number floats as integers; cpu is a float in the spec, so
  // say so (it parses back to the same number either way, so the hash is unaffected).
  // Only resources tables have a `cpu` key, and its value is always a plain number.
  const text = stringify(doc).replace(/^cpu = (\d+)$/gm, "cpu = $1.0");
  return `${text.trimEnd()}\n`;
}

function envTable(e: NormalisedEnv): Record<string, unknown> {
  const t: Record<string, unknown> = {};
  if (e.workdir !== undefined) t.workdir = e.workdir;
  if (e.user !== undefined) t.user = e.user;
  if (e.prestart.length > 0) t.prestart = [...e.prestart];
  t.prestart_timeout_seconds = e.prestart_timeout_seconds;
  if (Object.keys(e.vars).length > 0) t.vars = sortedRecord(e.vars);
  return t;
}

function processTable(p: NormalisedProcess): Record<string, unknown> {
  const t: Record<string, unknown> = {};
  if (p.command !== undefined) t.command = [...p.command];
  if (p.workdir !== undefined) t.workdir = p.workdir;
  if (p.user !== undefined) t.user = p.user;
  if (p.prestart.length > 0) t.prestart = [...p.prestart];
  t.prestart_timeout_seconds = p.prestart_timeout_seconds;
  if (Object.keys(p.vars).length > 0) t.vars = sortedRecord(p.vars);
  t.restart = { ...p.restart };
  t.resources = { memory: p.resources.memory, cpu: p.resources.cpu, disk: p.resources.disk };
  t.scaling = { min: p.scaling.min, max: p.scaling.max };
  if (p.ports.length > 0)
    t.ports = p.ports.map((x) => ({ name: x.name, internal: x.internal, protocol: x.protocol }));
  if (p.health !== undefined) t.health = { ...p.health };
  if (p.mounts.length > 0)
    t.mounts = p.mounts.map((x) => ({ volume: x.volume, path: x.path, read_only: x.read_only }));
  t.secrets = { required: p.secrets.required };
  return t;
}

function sortedRecord(r: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(r).sort()) out[k] = r[k] as string;
  return out;
}

/** Formats manifest text canonically; invalid manifests yield their errors instead. */
export function formatManifest(
  text: string,
): { ok: true; text: string } | { ok: false; errors: ManifestError[] } {
  const v = validateManifest(text);
  return v.ok ? { ok: true, text: manifestToToml(v.manifest) } : v;
}
