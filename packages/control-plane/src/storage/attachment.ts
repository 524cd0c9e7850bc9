// The volume attachment aggregate (spec platform.md §2.2, §10.1): which
// volume a process type of an env mounts, and where. The checks that need
// other rows (the volume, other attachments, the env's scale) are made by the
// command side; this file holds the events, a pure evolve and decisions.
import { normaliseMountPath } from "@plfm/contracts";
import { KernelError, type NewEvent, type StoredEvent } from "@plfm/kernel";

export const VOLUME_ATTACHMENT = "volume_attachment";

/** Where an attachment belongs: every event carries these. */
export interface EnvRef {
  orgId: string;
  appId: string;
  envId: string;
}

export interface AttachmentSpec {
  volume_id: string;
  process_type: string;
  mount_path: string;
  read_only: boolean;
}

export interface AttachmentRecord {
  exists: boolean;
  deleted: boolean;
  env: EnvRef;
  spec: AttachmentSpec;
  createdAt: Date | null;
  updatedAt: Date | null;
  version: number;
}

export const initialAttachment = (): AttachmentRecord => ({
  exists: false,
  deleted: false,
  env: { orgId: "", appId: "", envId: "" },
  spec: { volume_id: "", process_type: "", mount_path: "", read_only: false },
  createdAt: null,
  updatedAt: null,
  version: 0,
});

export function evolveAttachment(s: AttachmentRecord, e: StoredEvent): AttachmentRecord {
  const p = e.payload as Record<string, unknown>;
  const base = { ...s, updatedAt: e.occurredAt, version: e.aggregateSeq };
  switch (e.eventType) {
    case "volume_attachment.created":
      return {
        ...base,
        exists: true,
        env: { orgId: String(p.org_id), appId: String(p.app_id), envId: String(p.env_id) },
        spec: {
          volume_id: String(p.volume_id),
          process_type: String(p.process_type),
          mount_path: String(p.mount_path),
          read_only: p.read_only === true,
        },
        createdAt: e.occurredAt,
      };
    case "volume_attachment.deleted":
      return { ...base, deleted: true };
    default:
      return base;
  }
}

/** The API representation of an attachment (also the projection's row). */
export interface AttachmentView extends AttachmentSpec {
  attachment_id: string;
  org_id: string;
  app_id: string;
  env_id: string;
  resource_version: number;
  created_at: string;
  updated_at: string;
}

export function attachmentView(attachmentId: string, s: AttachmentRecord): AttachmentView {
  return {
    attachment_id: attachmentId,
    org_id: s.env.orgId,
    app_id: s.env.appId,
    env_id: s.env.envId,
    ...s.spec,
    resource_version: s.version,
    created_at: (s.createdAt as Date).toISOString(),
    updated_at: (s.updatedAt as Date).toISOString(),
  };
}

/**
 * The mount path as the manifest has it (§5, checklist 31): absolute, no
 * `..`, not a system path or /run/secrets and below; normalised (`//a/./b/`
 * → `/a/b`) so that uniqueness per (env, process, path) compares like with like.
 */
export function mountPathOf(raw: string): string {
  const n = normaliseMountPath(raw);
  if ("problem" in n) {
    throw new KernelError("invalid_argument", `mount_path ${n.problem}.`, {
      details: [{ field: "mount_path", code: "invalid_mount_path", message: n.problem }],
    });
  }
  return n.path;
}

/** `volume_attachment.created`, with the mount path already normalised. */
export function decideCreateAttachment(
  s: AttachmentRecord,
  attachmentId: string,
  env: EnvRef,
  spec: AttachmentSpec,
): NewEvent[] {
  if (s.exists) throw new KernelError("conflict", "This attachment already exists.");
  return [
    {
      aggregateType: VOLUME_ATTACHMENT,
      aggregateId: attachmentId,
      eventType: "volume_attachment.created",
      orgId: env.orgId,
      appId: env.appId,
      envId: env.envId,
      payload: {
        attachment_id: attachmentId,
        org_id: env.orgId,
        app_id: env.appId,
        env_id: env.envId,
        volume_id: spec.volume_id,
        process_type: spec.process_type,
        mount_path: spec.mount_path,
        read_only: spec.read_only,
      },
    },
  ];
}

/** An attachment of this env, not deleted, else 404. */
export function requireAttachment(s: AttachmentRecord, env: EnvRef): void {
  const same = s.env.orgId === env.orgId && s.env.appId === env.appId && s.env.envId === env.envId;
  if (!s.exists || s.deleted || !same) throw new KernelError("not_found", "No such volume attachment.");
}

/** DELETE: detaches. (Refusing while a non-stopped instance uses it waits for instances.) */
export function decideDeleteAttachment(s: AttachmentRecord, attachmentId: string, env: EnvRef): NewEvent[] {
  requireAttachment(s, env);
  return [
    {
      aggregateType: VOLUME_ATTACHMENT,
      aggregateId: attachmentId,
      eventType: "volume_attachment.deleted",
      orgId: env.orgId,
      appId: env.appId,
      envId: env.envId,
      payload: {
        attachment_id: attachmentId,
        org_id: env.orgId,
        env_id: env.envId,
        volume_id: s.spec.volume_id,
        process_type: s.spec.process_type,
      },
    },
  ];
}
