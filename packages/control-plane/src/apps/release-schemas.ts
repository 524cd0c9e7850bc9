// Request and response schemas of releases and deploys (spec platform.md §4.4).
// Digests are plain strings here: a malformed one is `invalid_image_digest`
// (release.ts), not the schema's generic `invalid_argument`.
import { Type } from "typebox";
import { idSchema as ulid } from "../http/ids.ts";
import { EnvParams, ProcessType } from "./schemas.ts";

const Timestamp = Type.String({ format: "date-time" });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const ReleasesParams = Type.Object(
  { org: ulid("org"), app: ulid("app") },
  { additionalProperties: false },
);
export const ReleaseParams = Type.Object(
  { org: ulid("org"), app: ulid("app"), release: ulid("rel") },
  { additionalProperties: false },
);
export const DeploysParams = EnvParams;
export const DeployParams = Type.Object(
  { org: ulid("org"), app: ulid("app"), env: ulid("env"), deploy: ulid("dep") },
  { additionalProperties: false },
);

const Digest = Type.String({ maxLength: 128 });
const ResolvedDigest = Type.Object(
  {
    os: Type.Literal("linux"),
    arch: Type.Union([Type.Literal("amd64"), Type.Literal("arm64")]),
    digest: Digest,
  },
  { additionalProperties: false },
);

export const CreateReleaseBody = Type.Object(
  {
    image_ref: Type.String({ minLength: 1, maxLength: 512 }),
    index_or_manifest_digest: Digest,
    resolved_digests: Type.Optional(Type.Array(ResolvedDigest, { maxItems: 2 })),
    command: Type.Array(Type.String({ maxLength: 4096 }), { minItems: 1, maxItems: 256 }),
    // The validator enforces the manifest's own size limit (E_TOO_LARGE); this only bounds the body.
    manifest: Type.String({ maxLength: 1_048_576 }),
    manifest_hash: Type.Optional(Type.String({ maxLength: 128 })),
  },
  { additionalProperties: false },
);

export const Release = Type.Object({
  release_id: Type.String(),
  org_id: Type.String(),
  app_id: Type.String(),
  image_ref: Type.String(),
  index_or_manifest_digest: Type.String(),
  resolved_digests: Type.Array(
    Type.Object({ os: Type.String(), arch: Type.String(), digest: Type.String() }),
  ),
  manifest_schema_version: Type.Integer(),
  manifest: Type.Object({}, { additionalProperties: true }),
  manifest_hash: Type.String(),
  manifest_size_bytes: Type.Integer(),
  command: Type.Array(Type.String()),
  created_at: Timestamp,
});

export const CreateDeployBody = Type.Object(
  {
    release_id: ulid("rel"),
    process_types: Type.Optional(Type.Array(ProcessType, { minItems: 1, maxItems: 64 })),
    strategy: Type.Optional(Type.Literal("rolling")),
  },
  { additionalProperties: false },
);
export const CreateRollbackBody = Type.Object({ release_id: ulid("rel") }, { additionalProperties: false });

export const Deploy = Type.Object({
  deploy_id: Type.String(),
  org_id: Type.String(),
  app_id: Type.String(),
  env_id: Type.String(),
  kind: Type.Union([Type.Literal("deploy"), Type.Literal("rollback")]),
  release_id: Type.String(),
  process_types: Type.Array(Type.String()),
  strategy: Type.Literal("rolling"),
  status: Type.Union([
    Type.Literal("queued"),
    Type.Literal("rolling"),
    Type.Literal("succeeded"),
    Type.Literal("failed"),
  ]),
  message: Nullable(Type.String()),
  failed_reason: Nullable(Type.String()),
  initiated_at: Timestamp,
  resource_version: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
