// The §7.2 WorkloadSpec as a strict JSON schema (no extra properties at any
// level), so the scheduler can prove what it hands an agent before it appends
// the allocation, and tests can prove workloadSpec() produces only that shape.
import { Type } from "typebox";
import { Compile } from "typebox/compile";
import { idSchema as id } from "../../http/ids.ts";

const strict = { additionalProperties: false } as const;
const Digest = Type.String({ pattern: "^sha256:[a-f0-9]{64}$" });
const PosInt = Type.Integer({ minimum: 1 });
const Port = Type.Integer({ minimum: 1, maximum: 65535 });
const Name = Type.String({ pattern: "^[a-z][a-z0-9-]{0,31}$" });
const AbsPath = Type.String({ pattern: "^/" });

export const WorkloadSpecSchema = Type.Object(
  {
    spec_version: Type.Literal("v1"),
    org_id: id("org"),
    app_id: id("app"),
    env_id: id("env"),
    process_type: Name,
    instance_id: id("inst"),
    generation: PosInt,
    release_id: id("rel"),
    image: Type.Object(
      {
        ref: Type.Optional(Type.String({ minLength: 1 })),
        digest: Digest,
        index_digest: Type.Optional(Digest),
        resolved_digest: Digest,
        os: Type.Literal("linux"),
        arch: Type.Union([Type.Literal("amd64"), Type.Literal("arm64")]),
      },
      strict,
    ),
    manifest_hash: Digest,
    command: Type.Array(Type.String(), { minItems: 1 }),
    resources: Type.Object(
      {
        cpu_request: Type.Number({ exclusiveMinimum: 0, maximum: 64 }),
        memory_limit_bytes: Type.Integer({ minimum: 67108864 }),
        ephemeral_disk_bytes: Type.Integer({ minimum: 1073741824 }),
        vcpu_count: Type.Integer({ minimum: 1, maximum: 64 }),
        cpu_weight: Type.Integer({ minimum: 1, maximum: 10000 }),
      },
      strict,
    ),
    network: Type.Object(
      {
        overlay_ipv6: Type.String({ pattern: "^[0-9a-fA-F:]+$" }),
        gateway_ipv6: Type.Literal("fe80::1"),
        mtu: Type.Integer({ minimum: 1280, maximum: 9000 }),
        dns: Type.Array(Type.String()),
        ports: Type.Array(Type.Object({ name: Name, port: Port, protocol: Type.Literal("tcp") }, strict)),
      },
      strict,
    ),
    workdir: Type.Optional(AbsPath),
    user: Type.Optional(Type.String({ minLength: 1 })),
    env_vars: Type.Optional(
      Type.Record(Type.String({ pattern: "^[A-Z_][A-Z0-9_]*$" }), Type.String(), strict),
    ),
    prestart: Type.Optional(Type.Array(Type.String())),
    prestart_timeout_seconds: Type.Optional(PosInt),
    health: Type.Optional(
      Type.Object(
        {
          type: Type.Union([Type.Literal("tcp"), Type.Literal("http")]),
          port: Port,
          path: Type.Optional(AbsPath),
          interval_seconds: PosInt,
          timeout_seconds: PosInt,
          grace_period_seconds: Type.Integer({ minimum: 0 }),
          success_threshold: PosInt,
          failure_threshold: PosInt,
        },
        strict,
      ),
    ),
    secrets: Type.Optional(
      Type.Object(
        {
          required: Type.Boolean(),
          secrets_version_id: Type.Optional(id("sv")),
          mount_path: Type.Literal("/run/secrets/platform.env"),
          mode: Type.Literal(256),
          uid: Type.Literal(0),
          gid: Type.Literal(0),
        },
        strict,
      ),
    ),
    mounts: Type.Optional(
      Type.Array(
        Type.Object(
          {
            volume_id: id("vol"),
            mount_path: AbsPath,
            read_only: Type.Boolean(),
            filesystem: Type.Literal("ext4"),
            device_hint: Type.Optional(Type.String()),
          },
          strict,
        ),
      ),
    ),
    lifecycle: Type.Optional(
      Type.Object(
        {
          termination_grace_seconds: Type.Integer({ minimum: 0 }),
          restart_policy: Type.Union([
            Type.Literal("always"),
            Type.Literal("on-failure"),
            Type.Literal("never"),
          ]),
          max_retries: Type.Integer({ minimum: 0 }),
          backoff_seconds: Type.Integer({ minimum: 0 }),
        },
        strict,
      ),
    ),
    spec_hash: Type.Optional(Type.String({ pattern: "^[a-f0-9]{64}$" })),
  },
  strict,
);

const compiled = Compile(WorkloadSpecSchema);

/** Problems with `value` as a WorkloadSpec ("<json pointer>: <message>"); empty when it validates. */
export function workloadSpecProblems(value: unknown): string[] {
  if (compiled.Check(value)) return [];
  return [...compiled.Errors(value)].map((e) => `${e.instancePath || "/"}: ${e.message}`);
}
