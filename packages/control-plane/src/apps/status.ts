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

/**
 * The processes as far as this context knows them: the desired counts from
 * the scale. TODO(releases, scheduler): desired/current release ids from
 * env_desired_releases and instances, ready/booting/draining/failed from the
 * instances view, blocked_* from env_scheduling; process types of the release
 * never scaled explicitly take the manifest's scaling.min.
 */
export function processesFromScale(scale: readonly ProcessScale[]): ProcessStatus[] {
  return scale.map((s) => ({
    process_type: s.process_type,
    current_release_id: null,
    desired_release_id: null,
    release_synced: true,
    desired: s.desired,
    ready: 0,
    booting: 0,
    draining: 0,
    failed: 0,
  }));
}
