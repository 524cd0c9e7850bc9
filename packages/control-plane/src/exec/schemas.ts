// Request and response schemas of the exec context (spec platform.md §7.8).
import { Type } from "typebox";
import { idSchema as ulid } from "../http/ids.ts";
import { CONNECT_TIMEOUT, type ExecLimits, SESSION_TTL, TOKEN_TTL } from "./limits.ts";

const Timestamp = Type.String({ format: "date-time" });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const InstanceParams = Type.Object(
  { org: ulid("org"), app: ulid("app"), env: ulid("env"), instance: ulid("inst") },
  { additionalProperties: false },
);
export const SessionParams = Type.Object({ id: ulid("exec") }, { additionalProperties: false });
export const AttachParams = Type.Object(
  { node: ulid("node"), id: ulid("exec") },
  { additionalProperties: false },
);
export const ConnectQuery = Type.Object({ token: Type.Optional(Type.String({ maxLength: 128 })) });

/** The grant body; the timeouts' floors come from the server's limits (tests lower them). */
export function grantBody(limits: ExecLimits) {
  return Type.Object(
    {
      command: Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { minItems: 1, maxItems: 256 }),
      tty: Type.Boolean(),
      token_ttl_seconds: Type.Optional(Type.Integer({ minimum: TOKEN_TTL.min, maximum: TOKEN_TTL.max })),
      session_ttl_seconds: Type.Optional(
        Type.Integer({ minimum: limits.minSessionTtlSeconds, maximum: SESSION_TTL.max }),
      ),
      connect_timeout_seconds: Type.Optional(
        Type.Integer({ minimum: limits.minConnectTimeoutSeconds, maximum: CONNECT_TIMEOUT.max }),
      ),
    },
    { additionalProperties: false },
  );
}
export type GrantBody = {
  command: string[];
  tty: boolean;
  token_ttl_seconds?: number;
  session_ttl_seconds?: number;
  connect_timeout_seconds?: number;
};

export const Grant = Type.Object({
  session_id: ulid("exec"),
  connect_url: Type.String(),
  session_token: Type.String(),
  expires_in_seconds: Type.Integer(),
});

export const ExecSession = Type.Object({
  session_id: ulid("exec"),
  org_id: ulid("org"),
  app_id: ulid("app"),
  env_id: ulid("env"),
  instance_id: ulid("inst"),
  requested_command: Type.Array(Type.String()),
  tty: Type.Boolean(),
  status: Type.Union([Type.Literal("granted"), Type.Literal("connected"), Type.Literal("ended")]),
  expires_at: Timestamp,
  connect_timeout_seconds: Type.Integer(),
  granted_at: Timestamp,
  connected_at: Nullable(Timestamp),
  ended_at: Nullable(Timestamp),
  exit_code: Type.Union([Type.Integer(), Type.Null()]),
  end_reason: Nullable(Type.String()),
  resource_version: Type.Integer(),
});
