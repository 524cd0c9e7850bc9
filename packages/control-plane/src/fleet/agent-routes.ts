// Agent-facing endpoints (spec platform.md §7.1, §7.2): enroll with a
// one-time token, then heartbeat, rotate the credential and read the plan
// with the node's own credential only (compliance 44, 45).
import { isIPv4, isIPv6 } from "node:net";
import { KernelError } from "@plfm/kernel";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { type Static, Type } from "typebox";
import { addPublicRoute } from "../auth/public-route.ts";
import { TOKEN_PREFIX } from "../auth/tokens.ts";
import { idSchema } from "../http/ids.ts";
import type { RouteDeps } from "../http/route.ts";
import { type EnrollRequest, enrollNode } from "./enrollment.ts";
import { registerInstanceStatusRoute } from "./instance-status.ts";
import { addNodeRoute } from "./node-auth.ts";
import {
  HEARTBEAT_INTERVAL_SECONDS,
  recordHeartbeat,
  rotateCredential,
  rotateWireguardKey,
} from "./node-commands.ts";
import { buildPlan } from "./plan.ts";
import { registerPlanStream } from "./plan-stream.ts";
import { peersOf } from "./reads.ts";

const NodeParams = Type.Object({ node: idSchema("node") }, { additionalProperties: false });
const Count = Type.Integer({ minimum: 0 });
// A WireGuard public key: 32 bytes in standard base64.
const WireguardKey = Type.String({ pattern: "^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$" });
const WireguardKeyBody = Type.Object({ wireguard_public_key: WireguardKey }, { additionalProperties: false });
const CapacityBody = Type.Object(
  { cpu_cores: Type.Number({ minimum: 0 }), memory_bytes: Count, disk_bytes: Count },
  { additionalProperties: false },
);
const EnrollBody = Type.Object(
  {
    enrollment_token: Type.Optional(Type.String({ maxLength: 200 })),
    hostname: Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: "^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$",
    }),
    agent_version: Type.Optional(Type.String({ maxLength: 64 })),
    supported_api_versions: Type.Optional(Type.Array(Type.String({ maxLength: 16 }), { maxItems: 16 })),
    roles: Type.Array(Type.Union([Type.Literal("worker"), Type.Literal("edge")]), {
      minItems: 1,
      maxItems: 2,
      uniqueItems: true,
    }),
    runtime: Type.Optional(Type.String({ maxLength: 32 })),
    underlay_endpoint: Type.Optional(
      Type.Object(
        {
          ipv6: Type.Optional(Type.String({ maxLength: 45 })),
          ipv4: Type.Optional(Type.String({ maxLength: 15 })),
          port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
        },
        { additionalProperties: false },
      ),
    ),
    public_ipv6: Type.Optional(Type.String({ maxLength: 45 })),
    public_ipv4: Type.Optional(Type.String({ maxLength: 15 })),
    hardware_facts: Type.Optional(
      Type.Object(
        {
          cpu_cores: Type.Number({ minimum: 0 }),
          memory_bytes: Count,
          disk_bytes: Count,
          arch: Type.String({ minLength: 1, maxLength: 32 }),
          kvm: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
    capacity: Type.Optional(CapacityBody),
    labels: Type.Optional(
      Type.Record(Type.String({ maxLength: 63 }), Type.String({ maxLength: 253 }), { maxProperties: 64 }),
    ),
    wireguard_public_key: WireguardKey,
  },
  { additionalProperties: false },
);
type EnrollBodyT = Static<typeof EnrollBody>;

const HeartbeatBody = Type.Object(
  {
    agent_version: Type.Optional(Type.String({ maxLength: 64 })),
    available_cpu_cores: Type.Optional(Type.Number({ minimum: 0 })),
    available_memory_bytes: Type.Optional(Count),
    instance_count: Type.Optional(Count),
    disk_pressure: Type.Optional(Type.Boolean()),
    degraded_reason: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    instance_statuses: Type.Optional(
      Type.Array(
        Type.Object(
          { instance_id: Type.String(), status: Type.String(), boot_id: Type.Optional(Type.String()) },
          { additionalProperties: false },
        ),
        { maxItems: 1000 },
      ),
    ),
  },
  { additionalProperties: false },
);

const invalidField = (field: string, message: string) =>
  new KernelError("invalid_argument", "The request is invalid.", { details: [{ field, message }] });

/** The enrollment token from the body, else from `Authorization: Bearer`. */
function enrollmentTokenOf(body: EnrollBodyT, request: FastifyRequest): string {
  const header = request.headers.authorization;
  const fromHeader = header?.startsWith("Bearer ") ? header.slice(7) : undefined;
  const token = body.enrollment_token ?? fromHeader;
  if (!token?.startsWith(TOKEN_PREFIX.enrollment)) {
    throw new KernelError("invalid_enrollment_token", "An enrollment token (plfm_enroll_…) is required.");
  }
  return token;
}

/** Validates what the schema cannot and folds §7.1's shape into an EnrollRequest. */
function toEnrollRequest(body: EnrollBodyT, token: string): EnrollRequest {
  const ipv6 = body.public_ipv6 ?? body.underlay_endpoint?.ipv6;
  const ipv4 = body.public_ipv4 ?? body.underlay_endpoint?.ipv4;
  if (ipv6 !== undefined && !isIPv6(ipv6)) throw invalidField("public_ipv6", "not an IPv6 address");
  if (ipv4 !== undefined && !isIPv4(ipv4)) throw invalidField("public_ipv4", "not an IPv4 address");
  const labels = { ...(body.labels ?? {}) };
  const arch = labels.arch ?? body.hardware_facts?.arch;
  if (!arch) throw invalidField("labels.arch", "the arch label is required");
  labels.arch = arch;
  const hw = body.hardware_facts;
  const capacity =
    body.capacity ??
    (hw ? { cpu_cores: hw.cpu_cores, memory_bytes: hw.memory_bytes, disk_bytes: hw.disk_bytes } : undefined);
  return {
    token,
    supportedApiVersions: body.supported_api_versions,
    hostname: body.hostname,
    roles: body.roles,
    public_ipv6: ipv6,
    public_ipv4: ipv4,
    wireguard_public_key: body.wireguard_public_key,
    labels,
    capacity,
  };
}

export function registerAgentRoutes(app: FastifyInstance, deps: RouteDeps): void {
  addPublicRoute<EnrollBodyT>(app, {
    method: "POST",
    url: "/v1/nodes/enroll",
    operationId: "nodes.enroll",
    summary: "Enroll a node with a one-time enrollment token",
    tags: ["nodes-agent"],
    body: EnrollBody,
    handler: async ({ body, request }) => {
      // Field problems first (as the schema's would be), then the token.
      const fields = toEnrollRequest(body, "");
      const req = { ...fields, token: enrollmentTokenOf(body, request) };
      const r = await enrollNode(deps.pool, req, deps.now(), request.id, app.log);
      await deps.kernel.watcher.waitFor(r.position, ["nodes"], { timeoutMs: deps.projectionWaitTimeoutMs });
      return {
        status: 201,
        body: {
          node_id: r.nodeId,
          node_credential: r.credential,
          overlay_ipv6: r.overlayIpv6,
          overlay_config: {
            node_overlay_ipv6: r.overlayIpv6,
            listen_port: 51820,
            mtu: 1420,
            peers: await peersOf(deps.pool, r.nodeId),
          },
          cluster_config: {
            cluster_id: process.env.PLFM_CLUSTER_ID ?? "plfm",
            control_plane_endpoints: deps.publicUrl ? [deps.publicUrl] : [],
            heartbeat_interval_seconds: HEARTBEAT_INTERVAL_SECONDS,
            agent_version_policy: { min_version: "0.0.0" },
          },
        },
      };
    },
  });

  addNodeRoute<Static<typeof HeartbeatBody>>(app, deps.pool, deps.now, {
    method: "POST",
    url: "/v1/nodes/:node/heartbeat",
    operationId: "nodes.heartbeat",
    summary: "The node's heartbeat (not an event); answers its state",
    params: NodeParams,
    body: HeartbeatBody,
    handler: async ({ nodeId, body, request }) => {
      const r = await recordHeartbeat(deps.pool, nodeId, body ?? {}, deps.now(), request.id);
      await deps.kernel.watcher.waitFor(r.position, ["nodes"], { timeoutMs: deps.projectionWaitTimeoutMs });
      return {
        status: 200,
        body: { next_heartbeat_seconds: r.next_heartbeat_seconds, node_state: r.node_state },
      };
    },
  });

  addNodeRoute(app, deps.pool, deps.now, {
    method: "POST",
    url: "/v1/nodes/:node/credential/rotate",
    operationId: "nodes.credential.rotate",
    summary: "A new node credential; the old one works 10 more minutes",
    params: NodeParams,
    handler: async ({ nodeId, request }) => ({
      status: 200,
      body: await rotateCredential(deps.pool, nodeId, deps.now(), request.id, app.log),
    }),
  });

  addNodeRoute(app, deps.pool, deps.now, {
    method: "GET",
    url: "/v1/nodes/:node/plan",
    operationId: "nodes.plan",
    summary: "The node's desired state (NodePlan)",
    params: NodeParams,
    handler: async ({ nodeId }) => ({ status: 200, body: await buildPlan(deps.pool, nodeId, deps.now()) }),
  });

  addNodeRoute<Static<typeof WireguardKeyBody>>(app, deps.pool, deps.now, {
    method: "POST",
    url: "/v1/nodes/:node/wireguard-key",
    operationId: "nodes.wireguard_key.rotate",
    summary: "The node's new WireGuard public key; peers learn it through their plans",
    params: NodeParams,
    body: WireguardKeyBody,
    handler: async ({ nodeId, body, request }) => {
      const r = await rotateWireguardKey(
        deps.pool,
        nodeId,
        body.wireguard_public_key,
        deps.now(),
        request.id,
        app.log,
      );
      await deps.kernel.watcher.waitFor(r.position, ["nodes"], { timeoutMs: deps.projectionWaitTimeoutMs });
      return {
        status: 200,
        body: {
          node_id: nodeId,
          wireguard_public_key: body.wireguard_public_key,
          key_generation: r.key_generation,
        },
      };
    },
  });

  registerPlanStream(app, deps, NodeParams);
  registerInstanceStatusRoute(app, deps);
}
