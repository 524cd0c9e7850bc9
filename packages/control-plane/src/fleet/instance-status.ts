// A node's report of one instance's status (spec platform.md §7.2, §7.3,
// compliance 42): only the credential of the node the instance is allocated
// to may report; `instance.status_changed` is appended only when the status
// or the boot_id changes. The rules are the apps context's pure decideStatusReport.
import { handleCommand } from "@plfm/kernel";
import type { FastifyInstance } from "fastify";
import { type Static, Type } from "typebox";
import {
  decideStatusReport,
  INSTANCE_REASON_CODES,
  INSTANCE_STATUSES,
  instanceAggregate,
} from "../apps/index.ts";
import { idSchema as ulid } from "../http/ids.ts";
import type { RouteDeps } from "../http/route.ts";
import { addNodeRoute } from "./node-auth.ts";

const Params = Type.Object({ node: ulid("node"), instance: ulid("inst") }, { additionalProperties: false });
const StatusBody = Type.Object(
  {
    status: Type.Union(INSTANCE_STATUSES.map((s) => Type.Literal(s))),
    boot_id: Type.Optional(ulid("boot")),
    runtime_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    exit_code: Type.Optional(Type.Integer({ minimum: -255, maximum: 255 })),
    reason_code: Type.Optional(Type.Union(INSTANCE_REASON_CODES.map((c) => Type.Literal(c)))),
    reason_detail: Type.Optional(Type.String({ maxLength: 1024 })),
    reported_at: Type.String({ minLength: 1, maxLength: 64 }),
  },
  { additionalProperties: false },
);

/** POST /v1/nodes/{node}/instances/{instance}/status → 200 {instance_id, status, changed}. */
export function registerInstanceStatusRoute(app: FastifyInstance, deps: RouteDeps): void {
  addNodeRoute<Static<typeof StatusBody>>(app, deps.pool, deps.now, {
    method: "POST",
    url: "/v1/nodes/:node/instances/:instance/status",
    operationId: "nodes.instances.status",
    summary: "The node reports an instance's status (appended only when status or boot_id changes)",
    params: Params,
    body: StatusBody,
    handler: async ({ nodeId, body, request }) => {
      const { instance } = request.params as { instance: string };
      const r = await handleCommand(deps.pool, {
        aggregate: instanceAggregate,
        aggregateId: instance,
        meta: { actorType: "node", actorId: nodeId, requestId: request.id },
        decide: (state) => {
          const events = decideStatusReport(state, { instanceId: instance, nodeId }, body);
          const changed = events.length > 0;
          return {
            events,
            response: { instance_id: instance, status: changed ? body.status : state.status, changed },
          };
        },
      });
      if (r.position) {
        await deps.kernel.watcher.waitFor(r.position, ["instances"], {
          timeoutMs: deps.projectionWaitTimeoutMs,
        });
      }
      return { status: 200, body: r.response };
    },
  });
}
