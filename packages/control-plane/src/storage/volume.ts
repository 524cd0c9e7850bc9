// The volume aggregate (spec platform.md §2.2, §10.1): its events, a pure
// evolve, and pure decisions. Facts that need other rows (is it attached,
// which node is home) are found by the command side and handed in.
import { KernelError, type NewEvent, type StoredEvent } from "@plfm/kernel";
import {
  checkTransition,
  checkVolumeReport,
  publicVolumeState,
  type ReportedVolumeState,
  VOLUME_MACHINE,
  type VolumeState,
  type VolumeUse,
} from "./state-machines.ts";

export const VOLUME = "volume";
export const MIN_VOLUME_BYTES = 1024 ** 3;

export interface VolumeSpec {
  name: string | null;
  size_bytes: number;
  filesystem: "ext4";
  backup_enabled: boolean;
  home_node_id: string;
}

export interface VolumeRecord {
  exists: boolean;
  orgId: string;
  spec: VolumeSpec;
  state: VolumeState;
  reason: string | null;
  createdAt: Date | null;
  updatedAt: Date | null;
  version: number;
}

export const initialVolume = (): VolumeRecord => ({
  exists: false,
  orgId: "",
  spec: { name: null, size_bytes: 0, filesystem: "ext4", backup_enabled: true, home_node_id: "" },
  state: "creating",
  reason: null,
  createdAt: null,
  updatedAt: null,
  version: 0,
});

export function evolveVolume(s: VolumeRecord, e: StoredEvent): VolumeRecord {
  const p = e.payload as Record<string, unknown>;
  const base = { ...s, updatedAt: e.occurredAt, version: e.aggregateSeq };
  switch (e.eventType) {
    case "volume.created":
      return {
        ...base,
        exists: true,
        orgId: String(p.org_id),
        spec: {
          name: typeof p.name === "string" ? p.name : null,
          size_bytes: Number(p.size_bytes),
          filesystem: "ext4",
          backup_enabled: p.backup_enabled !== false,
          home_node_id: String(p.home_node_id),
        },
        state: "creating",
        reason: null,
        createdAt: e.occurredAt,
      };
    case "volume.state_changed":
      return {
        ...base,
        state: p.state as VolumeState,
        reason: typeof p.reason === "string" ? p.reason : null,
      };
    case "volume.deleted":
      return { ...base, state: "deleting", reason: null };
    default:
      return base;
  }
}

/** The API representation of a volume (also the projection's row). */
export interface VolumeView {
  volume_id: string;
  org_id: string;
  name: string | null;
  size_bytes: number;
  filesystem: "ext4";
  backup_enabled: boolean;
  home_node_id: string;
  state: string;
  state_reason: string | null;
  resource_version: number;
  created_at: string;
  updated_at: string;
}

export function volumeView(volumeId: string, s: VolumeRecord, use: VolumeUse = "none"): VolumeView {
  return {
    volume_id: volumeId,
    org_id: s.orgId,
    ...s.spec,
    state: publicVolumeState(s.state, use),
    state_reason: s.reason,
    resource_version: s.version,
    created_at: (s.createdAt as Date).toISOString(),
    updated_at: (s.updatedAt as Date).toISOString(),
  };
}

/** A live volume of this org (not yet reported deleted), else 404. */
export function requireVolume(s: VolumeRecord, orgId: string): void {
  if (!s.exists || s.orgId !== orgId || s.state === "deleted") {
    throw new KernelError("not_found", "No such volume.");
  }
}

/** `volume.created`; every one carries its home node (decision 3, checklist 38). */
export function decideCreateVolume(
  s: VolumeRecord,
  volumeId: string,
  orgId: string,
  spec: VolumeSpec,
): NewEvent[] {
  if (s.exists) throw new KernelError("conflict", "This volume already exists.");
  if (spec.size_bytes < MIN_VOLUME_BYTES) {
    throw new KernelError("invalid_argument", "A volume is at least 1 GiB.", {
      details: [{ field: "size_bytes", code: "too_small", message: "at least 1073741824" }],
    });
  }
  if (spec.home_node_id === "") throw new KernelError("no_capacity", "No node can hold this volume.");
  const payload: Record<string, unknown> = {
    volume_id: volumeId,
    org_id: orgId,
    size_bytes: spec.size_bytes,
    filesystem: spec.filesystem,
    backup_enabled: spec.backup_enabled,
    home_node_id: spec.home_node_id,
  };
  if (spec.name !== null) payload.name = spec.name;
  return [{ aggregateType: VOLUME, aggregateId: volumeId, eventType: "volume.created", orgId, payload }];
}

/**
 * DELETE: refused while an attachment holds the volume (409 `volume_in_use`);
 * a volume already being deleted answers the same without a new event.
 */
export function decideDeleteVolume(
  s: VolumeRecord,
  volumeId: string,
  orgId: string,
  attached: boolean,
): NewEvent[] {
  requireVolume(s, orgId);
  if (s.state === "deleting") return [];
  if (attached) {
    throw new KernelError("volume_in_use", "The volume is attached; detach it before deleting it.");
  }
  checkTransition(VOLUME_MACHINE, "volume", s.state, "deleting");
  return [
    {
      aggregateType: VOLUME,
      aggregateId: volumeId,
      eventType: "volume.deleted",
      orgId,
      payload: { volume_id: volumeId, org_id: orgId },
    },
  ];
}

/** An agent's report on its volume: only the home node reports, along the state machine. */
export function decideVolumeReport(
  s: VolumeRecord,
  volumeId: string,
  nodeId: string,
  report: { state: ReportedVolumeState; reason?: string | undefined },
): NewEvent[] {
  if (!s.exists) throw new KernelError("not_found", "No such volume.");
  if (s.spec.home_node_id !== nodeId) {
    throw new KernelError("forbidden", "Only the volume's home node reports its state.");
  }
  checkVolumeReport(report);
  if (checkTransition(VOLUME_MACHINE, "volume", s.state, report.state) === "same") return [];
  const payload: Record<string, unknown> = { volume_id: volumeId, org_id: s.orgId, state: report.state };
  if (report.reason !== undefined) payload.reason = report.reason;
  return [
    {
      aggregateType: VOLUME,
      aggregateId: volumeId,
      eventType: "volume.state_changed",
      orgId: s.orgId,
      payload,
    },
  ];
}
