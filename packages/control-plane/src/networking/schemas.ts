// Request and response schemas of the networking context (spec platform.md
// §8.4, §8.6): they validate requests and generate the OpenAPI document.
import { Type } from "typebox";
import { idSchema as ulid } from "../http/ids.ts";

const Timestamp = Type.String({ format: "date-time" });

export const EnvParams = Type.Object(
  { org: ulid("org"), app: ulid("app"), env: ulid("env") },
  { additionalProperties: false },
);
export const RouteParams = Type.Object(
  { org: ulid("org"), app: ulid("app"), env: ulid("env"), route: ulid("rt") },
  { additionalProperties: false },
);

const ProtocolHint = Type.Union([Type.Literal("tls_passthrough"), Type.Literal("tcp_raw")]);
const ProxyProtocol = Type.Union([Type.Literal("off"), Type.Literal("v2")]);
const ProcessType = Type.String({ pattern: "^[a-z][a-z0-9-]{0,31}$" });
const Port = Type.Integer({ minimum: 1, maximum: 65535 });
// Loose here on purpose: the hostname rules answer `invalid_hostname` (spec §8.3), not a schema error.
const Hostname = Type.String({ minLength: 1, maxLength: 1024 });

export const CreateRouteBody = Type.Object(
  {
    hostname: Hostname,
    listen_port: Port,
    protocol_hint: ProtocolHint,
    backend_process_type: ProcessType,
    backend_port: Port,
    proxy_protocol: Type.Optional(ProxyProtocol),
    backend_expects_proxy_protocol: Type.Optional(Type.Boolean()),
    ipv4_required: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

// hostname, listen_port and protocol_hint are accepted by the schema only so
// that naming them answers 400 `invalid_update` (compliance 55) rather than
// a generic unknown-field error.
export const PatchRouteBody = Type.Object(
  {
    backend_process_type: Type.Optional(ProcessType),
    backend_port: Type.Optional(Port),
    proxy_protocol: Type.Optional(ProxyProtocol),
    backend_expects_proxy_protocol: Type.Optional(Type.Boolean()),
    ipv4_required: Type.Optional(Type.Boolean()),
    expected_version: Type.Integer({ minimum: 0 }),
    hostname: Type.Optional(Type.Unknown()),
    listen_port: Type.Optional(Type.Unknown()),
    protocol_hint: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);

export const Route = Type.Object({
  route_id: Type.String(),
  org_id: Type.String(),
  app_id: Type.String(),
  env_id: Type.String(),
  hostname: Type.String(),
  listen_port: Type.Integer(),
  protocol_hint: ProtocolHint,
  backend_process_type: Type.String(),
  backend_port: Type.Integer(),
  proxy_protocol: ProxyProtocol,
  backend_expects_proxy_protocol: Type.Boolean(),
  ipv4_required: Type.Boolean(),
  resource_version: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export const RoutePage = Type.Object({
  items: Type.Array(Route),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});

export const EnvNetworking = Type.Object({
  env_id: Type.String(),
  ipv4_enabled: Type.Boolean(),
  ipv4_address: Type.Union([Type.String(), Type.Null()]),
  ipv4_allocation_id: Type.Union([Type.String(), Type.Null()]),
});

export const DisableIpv4Query = Type.Object(
  {
    force: Type.Optional(
      Type.Boolean({ description: "Operators only: disable although routes require IPv4." }),
    ),
  },
  { additionalProperties: false },
);
