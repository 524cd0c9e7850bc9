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
 * One (process type, release) slice of the env's instances, counted in SQL
 * (status-reads.ts) under these rules, so the view's history of stopped
 * instances never reaches this process:
 * - ready: status ready and desired running;
 * - booting: allocated, preparing or booting, desired running;
 * - draining: status or desired draining, neither stopped nor failed yet
 *   (desired stopped means the scheduler recorded it stopped, §6.3 force);
 * - failed: status failed under the env's latest deploy, or whose last
 *   change is under 10 minutes old (the §6.3 replacement window), so an old
 *   failure does not haunt the status forever;
 * - live: neither stopped nor failed, desired not stopped (still running
 *   somewhere: what keeps release_synced false during a rollout).
 */
export interface InstanceTally {
  process_type: string;
  release_id: string;
  ready: number;
  booting: number;
  draining: number;
  failed: number;
  live: number;
}

/** A (process type)'s current block, from env_scheduling. */
export interface ProcessBlock {
  process_type: string;
  reason: string;
  detail: string | null;
}

const byCode = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The release most ready instances run; a tie goes to the desired release,
 * then to the smallest id (deterministic). Null when nothing is ready.
 */
export function currentRelease(tallies: readonly InstanceTally[], desired: string | null): string | null {
  let best: InstanceTally | null = null;
  for (const t of tallies) {
    if (t.ready === 0) continue;
    if (
      best === null ||
      t.ready > best.ready ||
      (t.ready === best.ready &&
        best.release_id !== desired &&
        (t.release_id === desired || byCode(t.release_id, best.release_id) < 0))
    ) {
      best = t;
    }
  }
  return best?.release_id ?? null;
}

/**
 * The processes of an env's status (§4.6): every process type scaled,
 * deployed, blocked or with instances still counted, sorted; desired = the
 * scale's value, else the desired release's scaling.min (spec §6.1), else 0.
 * release_synced: the ready instances run the desired release (or none are
 * wanted) and no instance of another release is still live.
 */
export function processesFromScale(
  scale: readonly ProcessScale[],
  desired: readonly DesiredRelease[] = [],
  tallies: readonly InstanceTally[] = [],
  blocks: readonly ProcessBlock[] = [],
): ProcessStatus[] {
  const scaled = new Map(scale.map((s) => [s.process_type, s.desired]));
  const releases = new Map(desired.map((d) => [d.process_type, d]));
  const blocked = new Map(blocks.map((b) => [b.process_type, b]));
  const counted = tallies.filter((t) => t.ready + t.booting + t.draining + t.failed + t.live > 0);
  const types = [
    ...new Set([
      ...scaled.keys(),
      ...releases.keys(),
      ...blocked.keys(),
      ...counted.map((t) => t.process_type),
    ]),
  ].sort(byCode);
  return types.map((type) => {
    const d = releases.get(type);
    const mine = counted.filter((t) => t.process_type === type);
    const sum = (k: "ready" | "booting" | "draining" | "failed") => mine.reduce((n, t) => n + t[k], 0);
    const want = scaled.get(type) ?? d?.min ?? 0;
    const desiredRelease = d?.release_id ?? null;
    const current = currentRelease(mine, desiredRelease);
    const strays = mine.some((t) => t.live > 0 && t.release_id !== desiredRelease);
    const block = blocked.get(type);
    return {
      process_type: type,
      current_release_id: current,
      desired_release_id: desiredRelease,
      release_synced: (want === 0 || current === desiredRelease) && !strays,
      desired: want,
      ready: sum("ready"),
      booting: sum("booting"),
      draining: sum("draining"),
      failed: sum("failed"),
      ...(block ? { blocked_reason: block.reason } : {}),
      ...(block?.detail ? { blocked_detail: block.detail } : {}),
    };
  });
}

/** A route of the env as its status shows it. */
export interface RouteStatus {
  route_id: string;
  hostname: string;
  listen_port: number;
  backend_port: number;
  status: "active" | "no_backends";
  backend_count: number;
}

/** Routes with their backends: the ready instances of each route's backend process type. */
export function routeStatuses(
  routes: ReadonlyArray<Omit<RouteStatus, "status" | "backend_count"> & { backend_process_type: string }>,
  processes: readonly ProcessStatus[],
): RouteStatus[] {
  const ready = new Map(processes.map((p) => [p.process_type, p.ready]));
  return routes.map((r) => {
    const n = ready.get(r.backend_process_type) ?? 0;
    return {
      route_id: r.route_id,
      hostname: r.hostname,
      listen_port: r.listen_port,
      backend_port: r.backend_port,
      status: n > 0 ? "active" : "no_backends",
      backend_count: n,
    };
  });
}
