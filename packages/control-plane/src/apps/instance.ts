// The instance aggregate (spec platform.md §2.2, §3.4, §7.3). The scheduler
// appends `instance.allocated` (and later drains); this module folds the
// log and decides the two writes the API takes: an operator's restart (a
// drain with reason `operator_restart`; the scheduler starts the replacement)
// and a node's status report, through the pure {@link decideStatusReport}.
import { type AggregateDef, KernelError, type NewEvent, type StoredEvent } from "@plfm/kernel";

export const INSTANCE = "instance";

/** The only statuses an instance has (compliance 42). */
export const INSTANCE_STATUSES = [
  "allocated",
  "preparing",
  "booting",
  "ready",
  "draining",
  "stopped",
  "failed",
] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

/** No report moves an instance out of these (§2.2). */
export const TERMINAL_STATUSES: readonly InstanceStatus[] = ["stopped", "failed"];

/** §3.4 instance reason codes; `failed` always carries one (compliance 42). */
export const INSTANCE_REASON_CODES = [
  "image_pull_failed",
  "rootfs_build_failed",
  "runtime_start_failed",
  "network_setup_failed",
  "volume_attach_failed",
  "secrets_missing",
  "secrets_injection_failed",
  "healthcheck_failed",
  "oom_killed",
  "crash_loop_backoff",
  "workload_exited",
  "terminated_by_operator",
  "node_draining",
] as const;
export type InstanceReasonCode = (typeof INSTANCE_REASON_CODES)[number];

/** §3.4 drain reasons of `instance.desired_state_changed`. */
export const DRAIN_REASONS = [
  "scale_down",
  "rollout_replace",
  "node_draining",
  "node_offline",
  "node_disabled",
  "failed_replace",
  "env_deleted",
  "operator_restart",
] as const;

export type DesiredState = "running" | "draining" | "stopped";

export interface InstanceState {
  exists: boolean;
  orgId: string;
  appId: string;
  envId: string;
  nodeId: string;
  desiredState: DesiredState;
  status: InstanceStatus;
  bootId: string | null;
  reportedAt: string | null;
}

export const initialInstance = (): InstanceState => ({
  exists: false,
  orgId: "",
  appId: "",
  envId: "",
  nodeId: "",
  desiredState: "running",
  status: "allocated",
  bootId: null,
  reportedAt: null,
});

export function evolveInstance(state: InstanceState, e: StoredEvent): InstanceState {
  const p = e.payload as Record<string, unknown>;
  switch (e.eventType) {
    case "instance.allocated":
      return {
        ...initialInstance(),
        exists: true,
        orgId: String(p.org_id),
        appId: String(p.app_id),
        envId: String(p.env_id),
        nodeId: String(p.node_id),
      };
    case "instance.desired_state_changed":
      return { ...state, desiredState: p.desired_state as DesiredState };
    case "instance.status_changed":
      return {
        ...state,
        status: p.status as InstanceStatus,
        // A report without boot_id keeps the last one known (as the view does).
        bootId: (p.boot_id as string | undefined) ?? state.bootId,
        reportedAt: String(p.reported_at),
      };
    default:
      return state;
  }
}

export const instanceAggregate: AggregateDef<InstanceState> = {
  aggregateType: INSTANCE,
  initial: initialInstance,
  evolve: evolveInstance,
};

/** A node's report (POST /v1/nodes/{node}/instances/{instance}/status), validated by its schema. */
export interface StatusReport {
  status: InstanceStatus;
  boot_id?: string;
  runtime_id?: string;
  exit_code?: number;
  reason_code?: InstanceReasonCode;
  reason_detail?: string;
  reported_at: string;
}

const invalid = (field: string, message: string) =>
  new KernelError("invalid_argument", "The request is invalid.", { details: [{ field, message }] });

/**
 * What a node's status report appends (pure). Rules: the instance must exist
 * (404) and be allocated to the reporting node (403); `failed` needs a
 * reason_code (400); once `stopped` or `failed` nothing moves it (409); no
 * report goes back to `allocated` (409). A report that changes neither the
 * status nor the boot_id, or one older than the last report (the agent
 * retries; reports can cross), appends nothing (§7.2).
 */
export function decideStatusReport(
  state: InstanceState,
  ids: { instanceId: string; nodeId: string },
  r: StatusReport,
): NewEvent[] {
  if (r.status === "failed" && r.reason_code === undefined) {
    throw invalid("reason_code", "required when status is failed");
  }
  const at = Date.parse(r.reported_at);
  if (Number.isNaN(at)) throw invalid("reported_at", "not an RFC 3339 timestamp");
  if (!state.exists) throw new KernelError("not_found", "No such instance.");
  if (state.nodeId !== ids.nodeId) {
    throw new KernelError("forbidden", "The instance is not allocated to this node.");
  }
  const bootChanged = r.boot_id !== undefined && r.boot_id !== state.bootId;
  if (r.status === state.status && !bootChanged) return [];
  if (TERMINAL_STATUSES.includes(state.status)) {
    throw new KernelError("conflict", `The instance is ${state.status}; that is final.`);
  }
  if (state.reportedAt !== null && at < Date.parse(state.reportedAt)) return [];
  if (r.status === "allocated") {
    throw new KernelError("conflict", "An instance never goes back to allocated.");
  }
  const payload: Record<string, unknown> = {
    instance_id: ids.instanceId,
    org_id: state.orgId,
    env_id: state.envId,
    node_id: ids.nodeId,
    status: r.status,
    reported_at: new Date(at).toISOString(),
  };
  for (const k of ["boot_id", "runtime_id", "exit_code", "reason_code", "reason_detail"] as const) {
    if (r[k] !== undefined) payload[k] = r[k];
  }
  return [instanceEvent(state, ids.instanceId, "instance.status_changed", payload)];
}

/**
 * An operator's restart (pure): drain with reason `operator_restart`; the
 * scheduler sees the drained instance and allocates its replacement as in a
 * rollout (§6.3). Already draining or stopping → nothing more to do. An
 * instance that is already stopped or failed has nothing to restart (409).
 */
export function decideRestart(state: InstanceState, instanceId: string): NewEvent[] {
  if (TERMINAL_STATUSES.includes(state.status)) {
    throw new KernelError("conflict", `The instance is ${state.status}; there is nothing to restart.`);
  }
  if (state.desiredState !== "running") return [];
  return [
    instanceEvent(state, instanceId, "instance.desired_state_changed", {
      instance_id: instanceId,
      org_id: state.orgId,
      env_id: state.envId,
      desired_state: "draining",
      drain_grace_seconds: 10,
      reason: "operator_restart",
    }),
  ];
}

/**
 * An operator's forced stop (pure), the repair for an instance whose node
 * will never report it stopped (§6.3 "or force"): desired `stopped`, so no
 * plan holds it and no usage counts it. History keeps every report; the
 * view's status stays the last one the node sent. Already meant to stop →
 * nothing; stopped or failed → 409.
 */
export function decideForceStop(state: InstanceState, instanceId: string): NewEvent[] {
  if (TERMINAL_STATUSES.includes(state.status)) {
    throw new KernelError("conflict", `The instance is ${state.status}; it is not running.`);
  }
  if (state.desiredState === "stopped") return [];
  return [
    instanceEvent(state, instanceId, "instance.desired_state_changed", {
      instance_id: instanceId,
      org_id: state.orgId,
      env_id: state.envId,
      desired_state: "stopped",
      reason: "terminated_by_operator",
    }),
  ];
}

function instanceEvent(
  state: InstanceState,
  instanceId: string,
  eventType: string,
  payload: Record<string, unknown>,
): NewEvent {
  return {
    aggregateType: INSTANCE,
    aggregateId: instanceId,
    eventType,
    payload,
    orgId: state.orgId,
    appId: state.appId,
    envId: state.envId,
  };
}
