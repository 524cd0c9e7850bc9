// The storage state machines (spec platform.md §2.2, §10): which status may
// follow which, for volumes, snapshots and restore jobs. Pure, so the node
// endpoints that report storage work (POST /v1/nodes/{node}/volumes|snapshots|
// restore-jobs/{id}/status) and the API commands share one rule book.
import { KernelError } from "@plfm/kernel";

/** A volume's recorded state (the events' states; `deleting` comes from `volume.deleted`). */
export const VOLUME_STATES = ["creating", "available", "error", "deleting", "deleted"] as const;
export type VolumeState = (typeof VOLUME_STATES)[number];

/** What the API shows: the recorded state, refined by the instances using the volume. */
export type PublicVolumeState = VolumeState | "attaching" | "in_use" | "detaching";

/** States an agent may report (`volume.state_changed`). */
export const REPORTABLE_VOLUME_STATES = ["available", "error", "deleted"] as const;
export type ReportedVolumeState = (typeof REPORTABLE_VOLUME_STATES)[number];

export const SNAPSHOT_STATUSES = ["queued", "running", "succeeded", "failed"] as const;
export type SnapshotStatus = (typeof SNAPSHOT_STATUSES)[number];

export const RESTORE_STATUSES = ["queued", "running", "succeeded", "failed"] as const;
export type RestoreStatus = (typeof RESTORE_STATUSES)[number];

/** A state machine: the states each state may move to. Absent or empty = terminal. */
export type Machine<S extends string> = Readonly<Record<S, readonly S[]>>;

/**
 * Volumes: the agent provisions (`creating` → `available` | `error`), a user
 * deletes (→ `deleting`, from any live state: deleting a volume that is still
 * being provisioned must not have to wait for the agent), the agent removes
 * it (`deleting` → `deleted`) or fails to (→ `error`, deletable again). An
 * `error` volume may recover when the agent reports it `available`.
 */
export const VOLUME_MACHINE: Machine<VolumeState> = {
  creating: ["available", "error", "deleting"],
  available: ["error", "deleting"],
  error: ["available", "deleting"],
  deleting: ["deleted", "error"],
  deleted: [],
};

/**
 * Snapshots (§10.2): `queued` until the home node starts (preflight may fail
 * it straight away), `running` until the backup is uploaded and verified
 * (`succeeded`, decision 8) or anything fails. Both ends are terminal.
 */
export const SNAPSHOT_MACHINE: Machine<SnapshotStatus> = {
  queued: ["running", "failed"],
  running: ["succeeded", "failed"],
  succeeded: [],
  failed: [],
};

/** Restore jobs (§10.4): the same shape; `running` names the new volume. */
export const RESTORE_MACHINE: Machine<RestoreStatus> = {
  queued: ["running", "failed"],
  running: ["succeeded", "failed"],
  succeeded: [],
  failed: [],
};

export function isTerminal<S extends string>(machine: Machine<S>, state: S): boolean {
  return machine[state].length === 0;
}

export function canTransition<S extends string>(machine: Machine<S>, from: S, to: S): boolean {
  return machine[from].includes(to);
}

/**
 * Checks a move: `"change"` when allowed, `"same"` when `to` is the current
 * state (an agent re-sending a report is answered without a new event), and
 * 409 `conflict` otherwise.
 */
export function checkTransition<S extends string>(
  machine: Machine<S>,
  what: string,
  from: S,
  to: S,
): "change" | "same" {
  if (from === to) return "same";
  if (canTransition(machine, from, to)) return "change";
  throw new KernelError("conflict", `A ${what} cannot go from ${from} to ${to}.`, {
    details: [{ field: "status", code: "invalid_transition", message: `${from} → ${to} is not allowed` }],
  });
}

/** How the instances of the volume's attachment stand (from the scheduler's view of instances). */
export type VolumeUse = "none" | "starting" | "running" | "stopping";

/**
 * The state the API shows (§2.2: attaching/in_use/detaching are derived from
 * attachments and instances). Only an `available` volume is refined.
 */
export function publicVolumeState(state: VolumeState, use: VolumeUse): PublicVolumeState {
  if (state !== "available") return state;
  if (use === "starting") return "attaching";
  if (use === "running") return "in_use";
  if (use === "stopping") return "detaching";
  return "available";
}

/** `restore_job` failed_reason values (§10.4). */
export const RESTORE_FAILED_REASONS = [
  "snapshot_not_found",
  "snapshot_not_succeeded",
  "backup_metadata_missing",
  "backup_object_missing",
  "master_key_unavailable",
  "no_capacity",
  "node_not_eligible",
  "download_failed",
  "decrypt_failed",
  "write_failed",
  "integrity_check_failed",
  "fsck_failed",
  "cleanup_failed",
  "internal_error",
] as const;

const invalid = (field: string, code: string, message: string) =>
  new KernelError("invalid_argument", message, { details: [{ field, code, message }] });

// Snapshot failures are a code with an optional detail (`quiesce_failed:timeout`,
// `internal_error:<detail>`); never a host path (§10.2), so no '/'.
const SNAPSHOT_FAILED_REASON = /^[a-z_]+(:[A-Za-z0-9_.|-]{1,128})?$/;

/** A snapshot status report: `failed` needs a failed_reason, `succeeded` its size; nothing else carries them. */
export function checkSnapshotReport(r: {
  status: SnapshotStatus;
  size_bytes?: number | undefined;
  failed_reason?: string | undefined;
}): void {
  if (r.status === "failed" && r.failed_reason === undefined) {
    throw invalid("failed_reason", "required", "a failed snapshot needs a failed_reason");
  }
  if (r.failed_reason !== undefined) {
    if (r.status !== "failed") throw invalid("failed_reason", "unexpected", "only a failed snapshot has one");
    if (!SNAPSHOT_FAILED_REASON.test(r.failed_reason) || r.failed_reason.length > 160) {
      throw invalid("failed_reason", "invalid", "a reason code such as quiesce_failed:timeout");
    }
  }
  if (r.status === "succeeded" && r.size_bytes === undefined) {
    throw invalid("size_bytes", "required", "a succeeded snapshot reports its size");
  }
}

/** A restore status report: `running` names the new volume, `failed` a §10.4 reason. */
export function checkRestoreReport(r: {
  status: RestoreStatus;
  new_volume_id?: string | undefined;
  failed_reason?: string | undefined;
}): void {
  if (r.status === "running" && r.new_volume_id === undefined) {
    throw invalid("new_volume_id", "required", "a running restore names its new volume");
  }
  if (r.status === "failed") {
    if (r.failed_reason === undefined)
      throw invalid("failed_reason", "required", "a failed restore needs one");
    if (!(RESTORE_FAILED_REASONS as readonly string[]).includes(r.failed_reason)) {
      throw invalid("failed_reason", "invalid", `one of ${RESTORE_FAILED_REASONS.join(", ")}`);
    }
  } else if (r.failed_reason !== undefined) {
    throw invalid("failed_reason", "unexpected", "only a failed restore has one");
  }
}

/** A volume state report: the reason (optional, any state) is a short text, never a host path by convention. */
export function checkVolumeReport(r: { state: ReportedVolumeState; reason?: string | undefined }): void {
  if (r.reason !== undefined && r.reason.length > 256) {
    throw invalid("reason", "too_long", "at most 256 characters");
  }
}
