// The snapshot aggregate (spec platform.md §2.2, §10.2): a request to snapshot
// a volume on its home node and back it up, and the node's reports on it.
// Pure; "one active snapshot per volume" is kept by the command side.
import { KernelError, type NewEvent, type StoredEvent } from "@plfm/kernel";
import {
  checkSnapshotReport,
  checkTransition,
  SNAPSHOT_MACHINE,
  type SnapshotStatus,
} from "./state-machines.ts";

export const SNAPSHOT = "snapshot";

export type Consistency = "crash" | "application";

export interface SnapshotRecord {
  exists: boolean;
  orgId: string;
  volumeId: string;
  sourceNodeId: string;
  note: string | null;
  status: SnapshotStatus;
  consistency: Consistency;
  sizeBytes: number | null;
  failedReason: string | null;
  createdAt: Date | null;
  updatedAt: Date | null;
  version: number;
}

export const initialSnapshot = (): SnapshotRecord => ({
  exists: false,
  orgId: "",
  volumeId: "",
  sourceNodeId: "",
  note: null,
  status: "queued",
  // v1 requests only crash consistency; a report may say what was achieved.
  consistency: "crash",
  sizeBytes: null,
  failedReason: null,
  createdAt: null,
  updatedAt: null,
  version: 0,
});

export function evolveSnapshot(s: SnapshotRecord, e: StoredEvent): SnapshotRecord {
  const p = e.payload as Record<string, unknown>;
  const base = { ...s, updatedAt: e.occurredAt, version: e.aggregateSeq };
  switch (e.eventType) {
    case "snapshot.created":
      return {
        ...base,
        exists: true,
        orgId: String(p.org_id),
        volumeId: String(p.volume_id),
        sourceNodeId: String(p.source_node_id),
        note: typeof p.note === "string" ? p.note : null,
        status: "queued",
        createdAt: e.occurredAt,
      };
    case "snapshot.status_changed":
      return {
        ...base,
        status: p.status as SnapshotStatus,
        ...(typeof p.consistency === "string" ? { consistency: p.consistency as Consistency } : {}),
        ...(typeof p.size_bytes === "number" ? { sizeBytes: p.size_bytes } : {}),
        ...(typeof p.failed_reason === "string" ? { failedReason: p.failed_reason } : {}),
      };
    default:
      return base;
  }
}

/** The API representation of a snapshot (also the projection's row). */
export interface SnapshotView {
  snapshot_id: string;
  org_id: string;
  volume_id: string;
  status: SnapshotStatus;
  consistency: Consistency;
  size_bytes: number | null;
  note: string | null;
  source_node_id: string;
  failed_reason: string | null;
  resource_version: number;
  created_at: string;
  updated_at: string;
}

export function snapshotView(snapshotId: string, s: SnapshotRecord): SnapshotView {
  return {
    snapshot_id: snapshotId,
    org_id: s.orgId,
    volume_id: s.volumeId,
    status: s.status,
    consistency: s.consistency,
    size_bytes: s.sizeBytes,
    note: s.note,
    source_node_id: s.sourceNodeId,
    failed_reason: s.failedReason,
    resource_version: s.version,
    created_at: (s.createdAt as Date).toISOString(),
    updated_at: (s.updatedAt as Date).toISOString(),
  };
}

/** `snapshot.created` (status queued) on the volume's home node. */
export function decideCreateSnapshot(
  s: SnapshotRecord,
  snapshotId: string,
  input: { orgId: string; volumeId: string; sourceNodeId: string; note?: string | undefined },
): NewEvent[] {
  if (s.exists) throw new KernelError("conflict", "This snapshot already exists.");
  const payload: Record<string, unknown> = {
    snapshot_id: snapshotId,
    org_id: input.orgId,
    volume_id: input.volumeId,
    source_node_id: input.sourceNodeId,
    status: "queued",
  };
  if (input.note !== undefined) payload.note = input.note;
  return [
    {
      aggregateType: SNAPSHOT,
      aggregateId: snapshotId,
      eventType: "snapshot.created",
      orgId: input.orgId,
      payload,
    },
  ];
}

export interface SnapshotReport {
  status: SnapshotStatus;
  consistency?: Consistency | undefined;
  size_bytes?: number | undefined;
  failed_reason?: string | undefined;
}

/** The source node's report, along the state machine; a repeated report appends nothing. */
export function decideSnapshotReport(
  s: SnapshotRecord,
  snapshotId: string,
  nodeId: string,
  r: SnapshotReport,
): NewEvent[] {
  if (!s.exists) throw new KernelError("not_found", "No such snapshot.");
  if (s.sourceNodeId !== nodeId) throw new KernelError("forbidden", "Only the source node reports on it.");
  checkSnapshotReport(r);
  if (checkTransition(SNAPSHOT_MACHINE, "snapshot", s.status, r.status) === "same") return [];
  const payload: Record<string, unknown> = {
    snapshot_id: snapshotId,
    org_id: s.orgId,
    volume_id: s.volumeId,
    status: r.status,
  };
  if (r.consistency !== undefined) payload.consistency = r.consistency;
  if (r.size_bytes !== undefined) payload.size_bytes = r.size_bytes;
  if (r.failed_reason !== undefined) payload.failed_reason = r.failed_reason;
  return [
    {
      aggregateType: SNAPSHOT,
      aggregateId: snapshotId,
      eventType: "snapshot.status_changed",
      orgId: s.orgId,
      payload,
    },
  ];
}
