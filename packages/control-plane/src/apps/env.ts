// The env aggregate as this context sees it: env.created/updated/deleted and
// env.scale_set. Other contexts append more env.* events (desired releases,
// scheduling, IPv4); evolve ignores those, and the env's own version and the
// scale's version count only the events that change them, so such events
// never make a client's expected_version stale.
import { KernelError, type NewEvent, type StoredEvent } from "@plfm/kernel";

export const ENV = "env";

export interface ProcessScale {
  process_type: string;
  desired: number;
}

export interface EnvState {
  exists: boolean;
  deleted: boolean;
  orgId: string;
  appId: string;
  name: string;
  createdAt: Date | null;
  updatedAt: Date | null;
  /** The env view's resource_version: created/updated/deleted events. */
  version: number;
  /** The scale view's resource_version: 1 at creation, +1 per env.scale_set. */
  scaleVersion: number;
  scaleUpdatedAt: Date | null;
  /** Desired count per process type ever scaled. */
  scales: ReadonlyMap<string, number>;
}

export const initialEnv = (): EnvState => ({
  exists: false,
  deleted: false,
  orgId: "",
  appId: "",
  name: "",
  createdAt: null,
  updatedAt: null,
  version: 0,
  scaleVersion: 0,
  scaleUpdatedAt: null,
  scales: new Map(),
});

export function evolveEnv(state: EnvState, e: StoredEvent): EnvState {
  const p = e.payload as Record<string, unknown>;
  switch (e.eventType) {
    case "env.created":
      return {
        ...initialEnv(),
        exists: true,
        orgId: String(p.org_id),
        appId: String(p.app_id),
        name: String(p.name),
        createdAt: e.occurredAt,
        updatedAt: e.occurredAt,
        version: 1,
        scaleVersion: 1,
        scaleUpdatedAt: e.occurredAt,
      };
    case "env.updated":
      return {
        ...state,
        ...(typeof p.name === "string" ? { name: p.name } : {}),
        updatedAt: e.occurredAt,
        version: state.version + 1,
      };
    case "env.deleted":
      return { ...state, deleted: true, updatedAt: e.occurredAt, version: state.version + 1 };
    case "env.scale_set": {
      const scales = new Map(state.scales);
      for (const s of (p.scales as ProcessScale[] | undefined) ?? []) scales.set(s.process_type, s.desired);
      return { ...state, scales, scaleUpdatedAt: e.occurredAt, scaleVersion: state.scaleVersion + 1 };
    }
    default:
      return state;
  }
}

/** The API representation of an env (also the `envs` view row). */
export interface EnvView {
  env_id: string;
  org_id: string;
  app_id: string;
  name: string;
  resource_version: number;
  created_at: string;
  updated_at: string;
}

export function envView(envId: string, s: EnvState): EnvView {
  return {
    env_id: envId,
    org_id: s.orgId,
    app_id: s.appId,
    name: s.name,
    resource_version: s.version,
    created_at: (s.createdAt as Date).toISOString(),
    updated_at: (s.updatedAt as Date).toISOString(),
  };
}

/** `GET E/scale` (also the `env_scale` view row). */
export interface ScaleView {
  env_id: string;
  processes: ProcessScale[];
  updated_at: string;
  resource_version: number;
}

/** Process types sorted, so the view and the response do not depend on PUT order. */
export function sortedScales(scales: ReadonlyMap<string, number>): ProcessScale[] {
  return [...scales]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([process_type, desired]) => ({ process_type, desired }));
}

export function scaleView(envId: string, s: EnvState): ScaleView {
  return {
    env_id: envId,
    processes: sortedScales(s.scales),
    updated_at: (s.scaleUpdatedAt as Date).toISOString(),
    resource_version: s.scaleVersion,
  };
}

/** A live env of this app and org, else 404 (another app's env is indistinguishable from none). */
export function requireEnv(state: EnvState, orgId: string, appId: string): void {
  if (!state.exists || state.deleted || state.orgId !== orgId || state.appId !== appId) {
    throw new KernelError("not_found", "No such env.");
  }
}

function envEvent(
  envId: string,
  s: { orgId: string; appId: string },
  type: string,
  payload: Record<string, unknown>,
): NewEvent {
  return {
    aggregateType: ENV,
    aggregateId: envId,
    eventType: type,
    orgId: s.orgId,
    appId: s.appId,
    envId,
    payload: { env_id: envId, org_id: s.orgId, app_id: s.appId, ...payload },
  };
}

export function decideCreateEnv(
  state: EnvState,
  envId: string,
  owner: { orgId: string; appId: string },
  name: string,
): NewEvent[] {
  if (state.exists) throw new KernelError("conflict", "The env already exists.");
  return [envEvent(envId, owner, "env.created", { name })];
}

function checkVersion(what: string, current: number, expected: number): void {
  if (current !== expected) {
    throw new KernelError(
      "version_conflict",
      `The ${what} is at version ${current}, not ${expected}; reload and retry.`,
      // The client's view is stale: retrying the same request cannot succeed.
      { retryable: false },
    );
  }
}

export function decideUpdateEnv(
  state: EnvState,
  envId: string,
  owner: { orgId: string; appId: string },
  change: { name?: string | undefined; expected_version: number },
): NewEvent[] {
  requireEnv(state, owner.orgId, owner.appId);
  checkVersion("env", state.version, change.expected_version);
  if (change.name === undefined || change.name === state.name) return [];
  return [envEvent(envId, state, "env.updated", { name: change.name })];
}

/** DELETE: refused while something still hangs off the env (`blocker`, found by the caller under a lock). */
export function decideDeleteEnv(
  state: EnvState,
  envId: string,
  owner: { orgId: string; appId: string },
  blocker: string | null,
): NewEvent[] {
  requireEnv(state, owner.orgId, owner.appId);
  if (blocker !== null) {
    throw new KernelError("conflict", `The env still has ${blocker}; remove them first.`, {
      extra: { blocked_by: blocker },
    });
  }
  return [envEvent(envId, state, "env.deleted", {})];
}

/**
 * PUT scale: sets `desired` for each listed process type; process types not
 * listed keep theirs. `unknown` are the listed types the env's release does
 * not define (from {@link import("./guards.ts").unknownProcessTypes}).
 */
export function decideSetScale(
  state: EnvState,
  envId: string,
  owner: { orgId: string; appId: string },
  change: { processes: ProcessScale[]; expected_version: number },
  unknown: readonly string[],
): NewEvent[] {
  requireEnv(state, owner.orgId, owner.appId);
  const seen = new Set<string>();
  const problems = change.processes.flatMap((p, i) => {
    const field = `processes.${i}.process_type`;
    if (seen.has(p.process_type)) return [{ field, code: "duplicate", message: "listed twice" }];
    seen.add(p.process_type);
    if (unknown.includes(p.process_type)) {
      return [{ field, code: "unknown_process_type", message: `no process type '${p.process_type}'` }];
    }
    return [];
  });
  if (problems.length > 0) {
    throw new KernelError("invalid_argument", "The scale request is invalid.", { details: problems });
  }
  checkVersion("scale", state.scaleVersion, change.expected_version);
  const changed = change.processes.filter((p) => state.scales.get(p.process_type) !== p.desired);
  if (changed.length === 0) return [];
  const scales = [...changed].sort((a, b) => (a.process_type < b.process_type ? -1 : 1));
  return [envEvent(envId, state, "env.scale_set", { scales })];
}
