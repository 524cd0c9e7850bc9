// Inputs and output of the per-group reconcile core (spec platform.md §6.3).
// Times are epoch milliseconds handed in by the caller: the core reads no clock.

import type { DeployStatus } from "../../apps/deploy.ts";
import type { DesiredState, InstanceStatus } from "../../apps/instance.ts";
import type { NodeState } from "../../fleet/node.ts";

export type { DeployStatus, DesiredState, InstanceStatus, NodeState };
export type DeployFailedReason = "timeout" | "too_many_failures" | "crash_loop_backoff";
/** The §3.4 drain reasons this core emits (env_deleted and operator_restart come from elsewhere). */
export type DrainReason =
  | "scale_down"
  | "rollout_replace"
  | "node_draining"
  | "node_offline"
  | "node_disabled"
  | "failed_replace";

export interface InstanceFact {
  instance_id: string;
  node_id: string;
  spec_hash: string;
  desired_state: DesiredState;
  status: InstanceStatus;
  reason_code?: string;
  created_at_ms: number;
  updated_at_ms: number;
  /** When the drain was recorded; falls back to updated_at_ms. */
  drain_started_at_ms?: number;
  drain_grace_seconds?: number;
  node_state: NodeState;
}

export interface DeployFacts {
  deploy_id: string;
  status: DeployStatus;
  created_at_ms: number;
  /** Process types the deploy targets: its timeout is 10 min per process type (§6.1). */
  process_count: number;
}

export interface Block {
  reason: string;
  detail: string;
}

/** Everything the core needs about one (env, process type). */
export interface GroupFacts {
  desired_release_id: string | null;
  desired_replicas: number;
  /** Null when the env has no desired release for this process: the group then wants 0 replicas. */
  group_spec_hash: string | null;
  /** The process has mounts: drain-first rollouts, never moved off its volume's home node. */
  stateful: boolean;
  /**
   * False when capacity or quota leave no room for one extra instance. Only
   * honoured with one replica (§6.3: drain first); with more, zero unavailable
   * wins (compliance 40) and the surge waits in placement's block instead.
   */
  surge_possible?: boolean;
  /** The block the caller sees now (secrets, quota, last placement), or null. */
  blocked_reason_now: Block | null;
  /** The reason of the last env.scheduling_blocked not yet followed by _unblocked. */
  last_recorded_block: string | null;
  deploy: DeployFacts | null;
  instances: readonly InstanceFact[];
  /** Failures of this group's instances under the current deploy (the caller filters by deploy_id). */
  failures_this_deploy: ReadonlyArray<{ at_ms: number; reason_code: string }>;
  /** node_id → live instances on it (all groups), for the scale-down victim order. */
  node_load?: Readonly<Record<string, number>>;
  now_ms: number;
}

export interface ReconcileSettings {
  max_failures_per_window: number;
  failure_window_ms: number;
  deploy_timeout_ms_per_process: number;
  default_drain_grace_seconds: number;
  /** Past drain grace plus this, a drain that never reported is recorded stopped (§6.3). */
  force_stop_after_grace_ms: number;
}

export const DEFAULT_RECONCILE_SETTINGS: ReconcileSettings = {
  max_failures_per_window: 3,
  failure_window_ms: 10 * 60_000,
  deploy_timeout_ms_per_process: 10 * 60_000,
  default_drain_grace_seconds: 10,
  force_stop_after_grace_ms: 30_000,
};

export interface Drain {
  instance_id: string;
  reason: DrainReason;
}

export interface DeployStatusChange {
  status: DeployStatus;
  failed_reason?: DeployFailedReason;
  message: string;
}

export interface Decision {
  /** New instances of the current spec; placement picks their nodes. */
  allocate: number;
  /** desired_state → draining, with the §3.4 reason. */
  drain: Drain[];
  /** desired_state → stopped. */
  stop: string[];
  /** Stateful instances on a draining node: they stay (§6.3 drain_blocked_by). */
  drain_blocked: string[];
  /** This group's verdict on the deploy; the caller combines the groups of a deploy. */
  deploy_status?: DeployStatusChange;
  /** The group's block as of this decision (the level); `block`/`unblock` are its edges against the log. */
  blocked: Block | null;
  block?: Block;
  unblock?: true;
}
