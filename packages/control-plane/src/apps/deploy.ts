// The deploy aggregate (spec platform.md §2.2, §3.4, §6): `deploy.created`
// (with one `env.desired_release_set` per targeted process type on the env, in
// the same append) and `deploy.status_changed`, driven later by the scheduler
// through the pure {@link decideDeployStatus}.
import { KernelError, type NewEvent, type StoredEvent } from "@plfm/kernel";
import type { ReleaseState } from "./release.ts";

export const DEPLOY = "deploy";

export type DeployKind = "deploy" | "rollback";
export type DeployStatus = "queued" | "rolling" | "succeeded" | "failed";
export type FailedReason = "timeout" | "too_many_failures" | "crash_loop_backoff" | "superseded";

export interface DeployState {
  exists: boolean;
  orgId: string;
  appId: string;
  envId: string;
  kind: DeployKind;
  releaseId: string;
  processTypes: string[];
  strategy: "rolling";
  status: DeployStatus;
  message: string | null;
  failedReason: FailedReason | null;
  initiatedAt: string;
  createdAt: Date | null;
  updatedAt: Date | null;
  version: number;
}

export const initialDeploy = (): DeployState => ({
  exists: false,
  orgId: "",
  appId: "",
  envId: "",
  kind: "deploy",
  releaseId: "",
  processTypes: [],
  strategy: "rolling",
  status: "queued",
  message: null,
  failedReason: null,
  initiatedAt: "",
  createdAt: null,
  updatedAt: null,
  version: 0,
});

export function evolveDeploy(state: DeployState, e: StoredEvent): DeployState {
  const p = e.payload as Record<string, unknown>;
  if (e.eventType === "deploy.created") {
    return {
      ...initialDeploy(),
      exists: true,
      orgId: String(p.org_id),
      appId: String(p.app_id),
      envId: String(p.env_id),
      kind: p.kind as DeployKind,
      releaseId: String(p.release_id),
      processTypes: p.process_types as string[],
      initiatedAt: String(p.initiated_at),
      createdAt: e.occurredAt,
      updatedAt: e.occurredAt,
      version: 1,
    };
  }
  if (e.eventType === "deploy.status_changed") {
    return {
      ...state,
      status: p.status as DeployStatus,
      message: (p.message as string | undefined) ?? null,
      failedReason: (p.failed_reason as FailedReason | undefined) ?? null,
      updatedAt: e.occurredAt,
      version: state.version + 1,
    };
  }
  return state;
}

export const deployAggregate = { aggregateType: DEPLOY, initial: initialDeploy, evolve: evolveDeploy };

/** The API representation of a deploy (also the `deploys` view row). */
export interface DeployView {
  deploy_id: string;
  org_id: string;
  app_id: string;
  env_id: string;
  kind: DeployKind;
  release_id: string;
  process_types: string[];
  strategy: "rolling";
  status: DeployStatus;
  message: string | null;
  failed_reason: FailedReason | null;
  initiated_at: string;
  resource_version: number;
  created_at: string;
  updated_at: string;
}

export function deployView(deployId: string, s: DeployState): DeployView {
  return {
    deploy_id: deployId,
    org_id: s.orgId,
    app_id: s.appId,
    env_id: s.envId,
    kind: s.kind,
    release_id: s.releaseId,
    process_types: s.processTypes,
    strategy: s.strategy,
    status: s.status,
    message: s.message,
    failed_reason: s.failedReason,
    initiated_at: s.initiatedAt,
    resource_version: s.version,
    created_at: (s.createdAt as Date).toISOString(),
    updated_at: (s.updatedAt as Date).toISOString(),
  };
}

export interface DeployRequest {
  deployId: string;
  orgId: string;
  appId: string;
  envId: string;
  kind: DeployKind;
  releaseId: string;
  /** Absent: every process type of the release (compliance 34). */
  processTypes?: readonly string[] | undefined;
  at: Date;
}

/**
 * A deploy: `deploy.created` and one `env.desired_release_set` per targeted
 * process type (sorted), all correlated by the deploy id (compliance 9). The
 * release must be of the same app (another app's is `invalid_argument`, as is a
 * process type the release does not define or one listed twice). Appended
 * together, so the env's desired releases and the deploy commit atomically.
 */
export function decideDeploy(release: ReleaseState, req: DeployRequest): NewEvent[] {
  if (!release.exists || release.orgId !== req.orgId || release.appId !== req.appId || !release.content) {
    throw new KernelError("invalid_argument", "No such release in this app.", {
      details: [{ field: "release_id", code: "not_found", message: "no such release in this app" }],
    });
  }
  const defined = Object.keys(release.content.manifest.processes);
  const seen = new Set<string>();
  const problems = (req.processTypes ?? []).flatMap((t, i) => {
    const field = `process_types.${i}`;
    if (seen.has(t)) return [{ field, code: "duplicate", message: "listed twice" }];
    seen.add(t);
    return defined.includes(t)
      ? []
      : [{ field, code: "unknown_process_type", message: `the release has no process type '${t}'` }];
  });
  if (problems.length > 0) {
    throw new KernelError("invalid_argument", "The deploy request is invalid.", { details: problems });
  }
  const types = [...(req.processTypes ?? defined)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const ids = { orgId: req.orgId, appId: req.appId, envId: req.envId, correlationId: req.deployId };
  const created: NewEvent = {
    ...ids,
    aggregateType: DEPLOY,
    aggregateId: req.deployId,
    eventType: "deploy.created",
    payload: {
      deploy_id: req.deployId,
      org_id: req.orgId,
      app_id: req.appId,
      env_id: req.envId,
      kind: req.kind,
      release_id: req.releaseId,
      process_types: types,
      strategy: "rolling",
      initiated_at: req.at.toISOString(),
    },
  };
  const desired = types.map(
    (t): NewEvent => ({
      ...ids,
      aggregateType: "env",
      aggregateId: req.envId,
      eventType: "env.desired_release_set",
      payload: {
        env_id: req.envId,
        org_id: req.orgId,
        app_id: req.appId,
        process_type: t,
        release_id: req.releaseId,
        deploy_id: req.deployId,
      },
    }),
  );
  return [created, ...desired];
}

/** Allowed moves: monotonic, and a finished deploy stays finished (§2.2). */
const NEXT: Readonly<Record<DeployStatus, readonly DeployStatus[]>> = {
  queued: ["rolling", "failed"],
  rolling: ["succeeded", "failed"],
  succeeded: [],
  failed: [],
};

/** Whether a deploy may move from `from` to `to`. */
export function canTransition(from: DeployStatus, to: DeployStatus): boolean {
  return NEXT[from].includes(to);
}

export interface StatusChange {
  status: DeployStatus;
  message?: string | undefined;
  failed_reason?: FailedReason | undefined;
}

/**
 * The scheduler's (or deploy controller's) status update, pure. The same
 * status again is a no-op (reconcilers repeat themselves); a backwards or
 * post-terminal move is `conflict`; `failed` needs a reason and only `failed`
 * takes one. Failure never reverts the desired release (§2.2): no env events.
 */
export function decideDeployStatus(
  state: DeployState,
  deployId: string,
  change: StatusChange,
  at: Date,
): NewEvent[] {
  if (!state.exists) throw new KernelError("not_found", "No such deploy.");
  if ((change.status === "failed") !== (change.failed_reason !== undefined)) {
    throw new KernelError("invalid_argument", "failed_reason goes with status failed, and only with it.");
  }
  if (state.status === change.status) return [];
  if (!canTransition(state.status, change.status)) {
    throw new KernelError("conflict", `A deploy cannot go from ${state.status} to ${change.status}.`);
  }
  return [
    {
      aggregateType: DEPLOY,
      aggregateId: deployId,
      eventType: "deploy.status_changed",
      orgId: state.orgId,
      appId: state.appId,
      envId: state.envId,
      correlationId: deployId,
      payload: {
        deploy_id: deployId,
        org_id: state.orgId,
        env_id: state.envId,
        status: change.status,
        ...(change.message !== undefined ? { message: change.message } : {}),
        ...(change.failed_reason !== undefined ? { failed_reason: change.failed_reason } : {}),
        updated_at: at.toISOString(),
      },
    },
  ];
}
