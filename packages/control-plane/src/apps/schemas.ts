// Request and response schemas of the apps context (spec platform.md §4.4):
// they validate requests and generate the OpenAPI document.
import { Type } from "typebox";
import { idSchema as ulid } from "../http/ids.ts";

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const Name = Type.String({ pattern: "^[a-z][a-z0-9-]*$", minLength: 1, maxLength: 63 });
export const Description = Type.String({ maxLength: 256 });
export const ProjectId = ulid("prj");
export const ProcessType = Type.String({ pattern: "^[a-z][a-z0-9-]{0,31}$" });
const Timestamp = Type.String({ format: "date-time" });

export const OrgParams = Type.Object({ org: ulid("org") }, { additionalProperties: false });
export const AppParams = Type.Object({ org: ulid("org"), app: ulid("app") }, { additionalProperties: false });
export const EnvsParams = AppParams;
export const EnvParams = Type.Object(
  { org: ulid("org"), app: ulid("app"), env: ulid("env") },
  { additionalProperties: false },
);

export const CreateAppBody = Type.Object(
  { name: Name, description: Type.Optional(Description), project_id: Type.Optional(ProjectId) },
  { additionalProperties: false },
);
export const PatchAppBody = Type.Object(
  {
    name: Type.Optional(Name),
    description: Type.Optional(Nullable(Description)),
    project_id: Type.Optional(Nullable(ProjectId)),
    expected_version: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export const App = Type.Object({
  app_id: Type.String(),
  org_id: Type.String(),
  project_id: Type.Union([Type.String(), Type.Null()]),
  name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  resource_version: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const CreateEnvBody = Type.Object({ name: Name }, { additionalProperties: false });
export const PatchEnvBody = Type.Object(
  { name: Type.Optional(Name), expected_version: Type.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);
export const Env = Type.Object({
  env_id: Type.String(),
  org_id: Type.String(),
  app_id: Type.String(),
  name: Type.String(),
  resource_version: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

// `desired` is bounded so a view column or a scheduler never meets an
// absurd number; quotas (max_instances) bound it far lower in practice.
const ProcessScale = Type.Object(
  { process_type: ProcessType, desired: Type.Integer({ minimum: 0, maximum: 10_000 }) },
  { additionalProperties: false },
);
export const PutScaleBody = Type.Object(
  {
    processes: Type.Array(ProcessScale, { minItems: 1, maxItems: 64 }),
    expected_version: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export const Scale = Type.Object({
  env_id: Type.String(),
  processes: Type.Array(Type.Object({ process_type: Type.String(), desired: Type.Integer() })),
  updated_at: Timestamp,
  resource_version: Type.Integer(),
});

export const ProcessStatus = Type.Object({
  process_type: Type.String(),
  current_release_id: Type.Union([Type.String(), Type.Null()]),
  desired_release_id: Type.Union([Type.String(), Type.Null()]),
  release_synced: Type.Boolean(),
  desired: Type.Integer(),
  ready: Type.Integer(),
  booting: Type.Integer(),
  draining: Type.Integer(),
  failed: Type.Integer(),
  blocked_reason: Type.Optional(Type.String()),
  blocked_detail: Type.Optional(Type.String()),
});
export const EnvStatus = Type.Object({
  env_id: Type.String(),
  env_name: Type.String(),
  app_id: Type.String(),
  app_name: Type.String(),
  status: Type.Union([Type.Literal("healthy"), Type.Literal("degraded"), Type.Literal("failing")]),
  processes: Type.Array(ProcessStatus),
  routes: Type.Array(
    Type.Object({
      route_id: Type.String(),
      hostname: Type.String(),
      listen_port: Type.Integer(),
      backend_port: Type.Integer(),
      status: Type.Union([Type.Literal("active"), Type.Literal("no_backends")]),
      backend_count: Type.Integer(),
    }),
  ),
  last_deploy: Type.Union([
    Type.Object({
      deploy_id: Type.String(),
      status: Type.String(),
      message: Type.Union([Type.String(), Type.Null()]),
    }),
    Type.Null(),
  ]),
  last_reconcile_at: Type.Union([Timestamp, Type.Null()]),
  last_error: Type.Union([Type.String(), Type.Null()]),
});
