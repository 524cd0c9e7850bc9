// The attachment commands' I/O (spec platform.md §10.1 "Attach checks"):
// lock, check the env, the process, the volume and the other attachments,
// decide (pure, attachment.ts), append, and keep volume_attachment_claims in
// the same transaction.
//
// Lock order, always: the env's parent lock (apps, shared) → the env's
// process type → the volume → quotas. One order everywhere keeps two
// commands from deadlocking.
import { KernelError, loadAggregate, newId, type PoolClient, sqlState, UNIQUE_VIOLATION } from "@plfm/kernel";
import { lockParent, unknownProcessTypes } from "../apps/guards.ts";
import { checkQuota } from "../tenancy/quotas.ts";
import {
  type AttachmentView,
  attachmentView,
  decideCreateAttachment,
  decideDeleteAttachment,
  type EnvRef,
  evolveAttachment,
  initialAttachment,
  mountPathOf,
  VOLUME_ATTACHMENT,
} from "./attachment.ts";
import { type CommandOutcome, onAggregate, runCommand, type StorageCtx } from "./command-kit.ts";
import { desiredReplicas, envIsLive, envNotFound, lockProcessMounts, lockVolume } from "./guards.ts";
import { volumeAggregate } from "./volume-commands.ts";

export const attachmentAggregate = {
  aggregateType: VOLUME_ATTACHMENT,
  initial: initialAttachment,
  evolve: evolveAttachment,
};

export interface CreateAttachmentBody {
  volume_id: string;
  process_type: string;
  mount_path: string;
  read_only?: boolean | undefined;
}

const field = (name: string, code: string, message: string) => [{ field: name, code, message }];

/** The volume to attach: live in this org and not being deleted. Returns its home node. */
async function attachableVolume(client: PoolClient, orgId: string, volumeId: string): Promise<string> {
  const { state } = await loadAggregate(client, volumeAggregate, volumeId);
  if (!state.exists || state.orgId !== orgId || state.state === "deleted") {
    throw new KernelError("invalid_argument", "No such volume in this organisation.", {
      details: field("volume_id", "not_found", "no such volume in this org"),
    });
  }
  if (state.state === "deleting") {
    throw new KernelError("conflict", "The volume is being deleted.", {
      details: field("volume_id", "volume_deleting", "the volume is being deleted"),
    });
  }
  return state.spec.home_node_id;
}

/**
 * Refuses what the other live attachments rule out: the volume in another
 * attachment (409 `volume_in_use`: single writer, no multi-attach), the same
 * (env, process, path) (409 `conflict`), and volumes of the process on
 * another home node (409 `volume_home_node_mismatch`: its instances run on
 * the home node of every volume they mount).
 */
async function checkOtherAttachments(
  client: PoolClient,
  env: EnvRef,
  spec: { volume_id: string; process_type: string; mount_path: string },
  home: string,
): Promise<void> {
  const { rows } = await client.query<{
    volume_id: string;
    mount_path: string;
    home_node_id: string;
    same: boolean;
  }>(
    `SELECT volume_id, mount_path, home_node_id, (env_id = $2 AND process_type = $3) AS same
       FROM volume_attachment_claims WHERE volume_id = $1 OR (env_id = $2 AND process_type = $3)`,
    [spec.volume_id, env.envId, spec.process_type],
  );
  if (rows.some((r) => r.volume_id === spec.volume_id)) {
    throw new KernelError("volume_in_use", "The volume is already attached; a volume has a single writer.");
  }
  if (rows.some((r) => r.same && r.mount_path === spec.mount_path)) {
    throw new KernelError("conflict", `${spec.process_type} already mounts a volume at ${spec.mount_path}.`, {
      details: field("mount_path", "mount_path_in_use", "already used by this process type"),
    });
  }
  const other = rows.find((r) => r.same && r.home_node_id !== home);
  if (other) {
    throw new KernelError(
      "volume_home_node_mismatch",
      `The process type's other volumes live on ${other.home_node_id}, this one on ${home}; they must share one node.`,
    );
  }
}

/** POST E/volume-attachments: attach a volume of the org to a process type of the env. */
export async function createAttachment(
  ctx: StorageCtx,
  env: EnvRef,
  body: CreateAttachmentBody,
): Promise<CommandOutcome<AttachmentView>> {
  const spec = {
    volume_id: body.volume_id,
    process_type: body.process_type,
    mount_path: mountPathOf(body.mount_path),
    read_only: body.read_only ?? false,
  };
  const attachmentId = newId("vat");
  return runCommand(ctx, async (client) => {
    // Shared: the env cannot be deleted until we commit (its delete takes it exclusive).
    await lockParent(client, "env", env.envId, "share");
    if (!(await envIsLive(client, env))) throw envNotFound();
    const unknown = await unknownProcessTypes(client, env, [spec.process_type]);
    if (unknown.length > 0) {
      throw new KernelError(
        "invalid_argument",
        `The env's release has no process type ${spec.process_type}.`,
        {
          details: field("process_type", "unknown_process_type", "not in the env's release"),
        },
      );
    }
    const desired = await desiredReplicas(client, env.envId, spec.process_type);
    if (desired !== null && desired > 1) {
      throw new KernelError(
        "conflict",
        `${spec.process_type} is scaled to ${desired}; a mounted process runs at most 1.`,
        {
          details: field("process_type", "replicas_above_one", `scaled to ${desired}`),
        },
      );
    }
    await lockProcessMounts(client, env.envId, spec.process_type);
    await lockVolume(client, spec.volume_id);
    const home = await attachableVolume(client, env.orgId, spec.volume_id);
    await checkOtherAttachments(client, env, spec, home);
    await checkQuota(client, env.orgId, "max_volume_attachments", 1);
    const r = await onAggregate(
      client,
      ctx,
      attachmentAggregate,
      attachmentId,
      (s) => decideCreateAttachment(s, attachmentId, env, spec),
      (next) => attachmentView(attachmentId, next),
    );
    if (!r.replayed) await insertClaim(client, attachmentId, env, spec, home);
    return r;
  });
}

async function insertClaim(
  client: PoolClient,
  attachmentId: string,
  env: EnvRef,
  spec: { volume_id: string; process_type: string; mount_path: string },
  home: string,
): Promise<void> {
  try {
    await client.query(
      `INSERT INTO volume_attachment_claims
         (attachment_id, org_id, env_id, process_type, mount_path, volume_id, home_node_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [attachmentId, env.orgId, env.envId, spec.process_type, spec.mount_path, spec.volume_id, home],
    );
  } catch (err) {
    // The locks make the checks above exact; the keys are the backstop.
    if (sqlState(err) !== UNIQUE_VIOLATION) throw err;
    throw new KernelError("conflict", "The volume or the mount path was attached concurrently; retry.");
  }
}

/**
 * DELETE E/volume-attachments/{attachment}: detach.
 * TODO(scheduler): 409 `volume_in_use` while a non-stopped instance uses it (§10.1).
 */
export async function deleteAttachment(
  ctx: StorageCtx,
  env: EnvRef,
  attachmentId: string,
): Promise<CommandOutcome<null>> {
  return runCommand(ctx, async (client) => {
    const r = await onAggregate(
      client,
      ctx,
      attachmentAggregate,
      attachmentId,
      (s) => decideDeleteAttachment(s, attachmentId, env),
      () => null,
    );
    if (!r.replayed && r.events.length > 0) {
      await client.query("DELETE FROM volume_attachment_claims WHERE attachment_id = $1", [attachmentId]);
    }
    return r;
  });
}
