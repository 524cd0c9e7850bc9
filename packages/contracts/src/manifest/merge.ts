// Spec §5 "Merge": what one process actually runs with, env and process combined.
// Kept out of normalisation so the normalised manifest (and fmt) mirror the file's
// structure instead of copying env settings into every process.

import type { NormalisedManifest, NormalisedProcess } from "./types.ts";
import { quantityToBytes } from "./values.ts";

/** One process's effective runtime settings after the env/process merge. */
export interface EffectiveProcess {
  name: string;
  /** Undefined: use the release's command (image entrypoint + cmd). */
  command: string[] | undefined;
  /** Process vars override env vars. */
  vars: Record<string, string>;
  /** Process workdir/user win over env; undefined = the image's. */
  workdir: string | undefined;
  user: string | undefined;
  /** Env prestart steps run before the process's own. */
  prestart: string[];
  prestart_timeout_seconds: number;
  memory_limit_bytes: number;
  cpu_request: number;
  ephemeral_disk_bytes: number;
}

/** The merged settings of process `name`, or undefined if the manifest has no such process. */
export function effectiveProcess(m: NormalisedManifest, name: string): EffectiveProcess | undefined {
  if (!Object.hasOwn(m.processes, name)) return undefined;
  const p = m.processes[name] as NormalisedProcess;
  return {
    name,
    command: p.command,
    vars: { ...m.env.vars, ...p.vars },
    workdir: p.workdir ?? m.env.workdir,
    user: p.user ?? m.env.user,
    prestart: [...m.env.prestart, ...p.prestart],
    prestart_timeout_seconds: p.prestart_timeout_seconds,
    memory_limit_bytes: quantityToBytes(p.resources.memory),
    cpu_request: p.resources.cpu,
    ephemeral_disk_bytes: quantityToBytes(p.resources.disk),
  };
}
