// Request and response schemas of the storage context (spec platform.md §4.4):
// they validate requests and generate the OpenAPI document.
import { Type } from "typebox";
import { idSchema as id } from "../http/ids.ts";

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Timestamp = Type.String({ format: "date-time" });

/** Volume names (§2.1): the name rule, up to 160 characters. */
export const VolumeName = Type.String({ pattern: "^[a-z][a-z0-9-]*$", minLength: 1, maxLength: 160 });
export const ProcessType = Type.String({ pattern: "^[a-z][a-z0-9-]{0,31}$" });
export const VolumeId = id("vol");
export const NodeId = id("node");
export const SnapshotId = id("snap");

export const OrgParams = Type.Object({ org: id("org") }, { additionalProperties: false });
export const VolumeParams = Type.Object(
  { org: id("org"), volume: VolumeId },
  { additionalProperties: false },
);
export const SnapshotParams = Type.Object(
  { org: id("org"), snapshot: SnapshotId },
  { additionalProperties: false },
);
export const RestoreParams = Type.Object(
  { org: id("org"), restore: id("rjob") },
  { additionalProperties: false },
);
export const EnvParams = Type.Object(
  { org: id("org"), app: id("app"), env: id("env") },
  { additionalProperties: false },
);
export const AttachmentParams = Type.Object(
  { org: id("org"), app: id("app"), env: id("env"), attachment: id("vat") },
  { additionalProperties: false },
);

export const CreateVolumeBody = Type.Object(
  {
    name: Type.Optional(VolumeName),
    size_bytes: Type.Integer({ minimum: 1073741824, maximum: Number.MAX_SAFE_INTEGER }),
    filesystem: Type.Optional(Type.Literal("ext4")),
    backup_enabled: Type.Optional(Type.Literal(true)),
    home_node_id: Type.Optional(NodeId),
  },
  { additionalProperties: false },
);
export const Volume = Type.Object({
  volume_id: Type.String(),
  org_id: Type.String(),
  name: Nullable(Type.String()),
  size_bytes: Type.Integer(),
  filesystem: Type.Literal("ext4"),
  backup_enabled: Type.Boolean(),
  home_node_id: Type.String(),
  state: Type.String(),
  state_reason: Nullable(Type.String()),
  resource_version: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const CreateAttachmentBody = Type.Object(
  {
    volume_id: VolumeId,
    process_type: ProcessType,
    mount_path: Type.String({ minLength: 1, maxLength: 4096 }),
    read_only: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export const Attachment = Type.Object({
  attachment_id: Type.String(),
  org_id: Type.String(),
  app_id: Type.String(),
  env_id: Type.String(),
  volume_id: Type.String(),
  process_type: Type.String(),
  mount_path: Type.String(),
  read_only: Type.Boolean(),
  resource_version: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const CreateSnapshotBody = Type.Object(
  { note: Type.Optional(Type.String({ maxLength: 256 })), consistency: Type.Optional(Type.Literal("crash")) },
  { additionalProperties: false },
);
export const Snapshot = Type.Object({
  snapshot_id: Type.String(),
  org_id: Type.String(),
  volume_id: Type.String(),
  status: Type.String(),
  consistency: Type.String(),
  size_bytes: Nullable(Type.Integer()),
  note: Nullable(Type.String()),
  source_node_id: Type.String(),
  failed_reason: Nullable(Type.String()),
  resource_version: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const CreateRestoreBody = Type.Object(
  {
    snapshot_id: SnapshotId,
    new_volume_name: Type.Optional(VolumeName),
    target_node_id: Type.Optional(NodeId),
  },
  { additionalProperties: false },
);
export const RestoreJob = Type.Object({
  restore_id: Type.String(),
  org_id: Type.String(),
  snapshot_id: Type.String(),
  source_volume_id: Type.String(),
  new_volume_name: Nullable(Type.String()),
  target_node_id: Nullable(Type.String()),
  status: Type.String(),
  new_volume_id: Nullable(Type.String()),
  failed_reason: Nullable(Type.String()),
  resource_version: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

/** `{items, next_cursor}` of `item`. */
export const PageOf = (item: Parameters<typeof Type.Array>[0]) =>
  Type.Object({ items: Type.Array(item), next_cursor: Nullable(Type.String()) });
