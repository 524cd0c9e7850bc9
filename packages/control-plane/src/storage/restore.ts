// The restore job aggregate (spec platform.md §2.2, §10.4): a request to
// restore a succeeded snapshot into a new volume, and the reports on it.
// Pure; the snapshot's facts are handed in by the command side.
import { KernelError, type NewEvent, type StoredEvent } from "@plfm/kernel";
import {
  checkRestoreReport,
  checkTransition,
  RESTORE_MACHINE,
  type RestoreStatus,
} from "./state-machines.ts";

export const RESTORE_JOB = "restore_job";

export interface RestoreRequest {
  snapshot_id: string;
  source_volume_id: string;
  new_volume_name: string | null;
  target_node_id: string | null;
}

export interface RestoreRecord {
  exists: boolean;
  orgId: string;
  request: RestoreRequest;
  status: RestoreStatus;
  newVolumeId: string | null;
  failedReason: string | null;
  createdAt: Date | null;
  updatedAt: Date | null;
  version: number;
}

export const initialRestore = (): RestoreRecord => ({
  exists: false,
  orgId: "",
  request: { snapshot_id: "", source_volume_id: "", new_volume_name: null, target_node_id: null },
  status: "queued",
  newVolumeId: null,
  failedReason: null,
  createdAt: null,
  updatedAt: null,
  version: 0,
});

const strOrNull = (v: unknown) => (typeof v === "string" ? v : null);

export function evolveRestore(s: RestoreRecord, e: StoredEvent): RestoreRecord {
  const p = e.payload as Record<string, unknown>;
  const base = { ...s, updatedAt: e.occurredAt, version: e.aggregateSeq };
  switch (e.eventType) {
    case "restore_job.created":
      return {
        ...base,
        exists: true,
        orgId: String(p.org_id),
        request: {
          snapshot_id: String(p.snapshot_id),
          source_volume_id: String(p.source_volume_id),
          new_volume_name: strOrNull(p.new_volume_name),
          target_node_id: strOrNull(p.target_node_id),
        },
        status: "queued",
        createdAt: e.occurredAt,
      };
    case "restore_job.status_changed":
      return {
        ...base,
        status: p.status as RestoreStatus,
        newVolumeId: strOrNull(p.new_volume_id) ?? s.newVolumeId,
        failedReason: strOrNull(p.failed_reason) ?? s.failedReason,
      };
    default:
      return base;
  }
}

/** The API representation of a restore job (also the projection's row). */
export interface RestoreView extends RestoreRequest {
  restore_id: string;
  org_id: string;
  status: RestoreStatus;
  new_volume_id: string | null;
  failed_reason: string | null;
  resource_version: number;
  created_at: string;
  updated_at: string;
}

export function restoreView(restoreId: string, s: RestoreRecord): RestoreView {
  return {
    restore_id: restoreId,
    org_id: s.orgId,
    ...s.request,
    status: s.status,
    new_volume_id: s.newVolumeId,
    failed_reason: s.failedReason,
    resource_version: s.version,
    created_at: (s.createdAt as Date).toISOString(),
    updated_at: (s.updatedAt as Date).toISOString(),
  };
}

/** What the command side knows of the snapshot to restore. */
export interface SnapshotFacts {
  exists: boolean;
  orgId: string;
  volumeId: string;
  status: string;
}

/**
 * `restore_job.created` (status queued). The snapshot must be of this org
 * (else 404), of the volume in the path (else 400), and `succeeded` (else 409
 * `conflict`): a restore from anything else could only fail later.
 */
export function decideCreateRestore(
  s: RestoreRecord,
  restoreId: string,
  orgId: string,
  request: RestoreRequest,
  snapshot: SnapshotFacts,
): NewEvent[] {
  if (s.exists) throw new KernelError("conflict", "This restore job already exists.");
  const field = (code: string, message: string) => [{ field: "snapshot_id", code, message }];
  if (!snapshot.exists || snapshot.orgId !== orgId) {
    throw new KernelError("not_found", "No such snapshot.", {
      details: field("not_found", "no such snapshot"),
    });
  }
  if (snapshot.volumeId !== request.source_volume_id) {
    throw new KernelError("invalid_argument", "The snapshot is not of this volume.", {
      details: field("snapshot_volume_mismatch", "a snapshot of another volume"),
    });
  }
  if (snapshot.status !== "succeeded") {
    throw new KernelError("conflict", `The snapshot is ${snapshot.status}; only a succeeded one restores.`, {
      details: field("snapshot_not_succeeded", `status is ${snapshot.status}`),
    });
  }
  const payload: Record<string, unknown> = {
    restore_id: restoreId,
    org_id: orgId,
    snapshot_id: request.snapshot_id,
    source_volume_id: request.source_volume_id,
    status: "queued",
  };
  if (request.new_volume_name !== null) payload.new_volume_name = request.new_volume_name;
  if (request.target_node_id !== null) payload.target_node_id = request.target_node_id;
  return [
    { aggregateType: RESTORE_JOB, aggregateId: restoreId, eventType: "restore_job.created", orgId, payload },
  ];
}

export interface RestoreReport {
  status: RestoreStatus;
  new_volume_id?: string | undefined;
  failed_reason?: string | undefined;
}

/**
 * A report on the job, along the state machine; a repeated report appends
 * nothing. `new_volume_id` is fixed once the job runs.
 */
export function decideRestoreReport(s: RestoreRecord, restoreId: string, r: RestoreReport): NewEvent[] {
  if (!s.exists) throw new KernelError("not_found", "No such restore job.");
  checkRestoreReport(r);
  if (s.newVolumeId !== null && r.new_volume_id !== undefined && r.new_volume_id !== s.newVolumeId) {
    throw new KernelError("conflict", "The restore job already restores into another volume.", {
      details: [{ field: "new_volume_id", code: "mismatch", message: `is ${s.newVolumeId}` }],
    });
  }
  if (checkTransition(RESTORE_MACHINE, "restore job", s.status, r.status) === "same") return [];
  const payload: Record<string, unknown> = { restore_id: restoreId, org_id: s.orgId, status: r.status };
  const newVolumeId = r.new_volume_id ?? s.newVolumeId;
  if (newVolumeId !== null) payload.new_volume_id = newVolumeId;
  if (r.failed_reason !== undefined) payload.failed_reason = r.failed_reason;
  return [
    {
      aggregateType: RESTORE_JOB,
      aggregateId: restoreId,
      eventType: "restore_job.status_changed",
      orgId: s.orgId,
      payload,
    },
  ];
}
