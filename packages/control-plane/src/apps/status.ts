// Env status (spec platform.md §4.6), the pure part: how per-process counts
// become the env's one-word status.
import type { ProcessScale } from "./env.ts";

export interface ProcessStatus {
  process_type: string;
  current_release_id: string | null;
  desired_release_id: string | null;
  release_synced: boolean;
  desired: number;
  ready: number;
  booting: number;
  draining: number;
  failed: number;
  blocked_reason?: string;
  blocked_detail?: string;
}

export type EnvHealth = "healthy" | "degraded" | "failing";

/**
 * `healthy` when every process has ready = desired and none is blocked;
 * `failing` when some process wants instances and has none ready; otherwise
 * `degraded` (also when the env's IPv4 address failed to bind).
 */
export function envHealth(processes: readonly ProcessStatus[], ipv4BindFailed = false): EnvHealth {
  if (processes.some((p) => p.desired > 0 && p.ready === 0)) return "failing";
  const settled = processes.every((p) => p.ready === p.desired && p.blocked_reason === undefined);
  return settled && !ipv4BindFailed ? "healthy" : "degraded";
}

/** A process type's desired release (env_desired_releases) and that release's scaling.min. */
export interface DesiredRelease {
  process_type: string;
  release_id: string;
  min: number;
}

/**
 * The processes as far as this context knows them: every process type scaled
 * or deployed, sorted; desired = the scale's value, else the desired release's
 * scaling.min (spec §6.1); desired_release_id from the env's desired releases.
 * TODO(scheduler): current_release_id, ready/booting/draining/failed from the
 * instances view and blocked_* from env_scheduling; until then current is null,
 * so a process with a desired release is not release_synced.
 */
export function processesFromScale(
  scale: readonly ProcessScale[],
  desired: readonly DesiredRelease[] = [],
): ProcessStatus[] {
  const scaled = new Map(scale.map((s) => [s.process_type, s.desired]));
  const releases = new Map(desired.map((d) => [d.process_type, d]));
  const types = [...new Set([...scaled.keys(), ...releases.keys()])].sort((a, b) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  return types.map((t) => {
    const d = releases.get(t);
    return {
      process_type: t,
      current_release_id: null,
      desired_release_id: d?.release_id ?? null,
      release_synced: d === undefined,
      desired: scaled.get(t) ?? d?.min ?? 0,
      ready: 0,
      booting: 0,
      draining: 0,
      failed: 0,
    };
  });
}
