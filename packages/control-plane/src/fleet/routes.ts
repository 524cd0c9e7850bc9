// Operator endpoints (spec platform.md §4.4 /nodes…, scope nodes:admin —
// no org in the path, so addRoute checks the token's own scopes/operator flag).
import type { FastifyInstance } from "fastify";
import { type Static, Type } from "typebox";
import { idSchema as Id } from "../http/ids.ts";
import { PageQuery, pageAfter, toPage } from "../http/pagination.ts";
import { addRoute, type RouteContext, type RouteDeps } from "../http/route.ts";
import type { AuditLogger } from "../tenancy/audit.ts";
import { registerAgentRoutes } from "./agent-routes.ts";
import {
  createEnrollmentToken,
  DEFAULT_TOKEN_TTL_SECONDS,
  MAX_TOKEN_TTL_SECONDS,
  revokeEnrollmentToken,
} from "./enrollment.ts";
import { type OperatorCommand, revokeNode, setNodeState } from "./node-commands.ts";
import { listNodes, readNode } from "./reads.ts";

export const NodeParams = Type.Object({ node: Id("node") }, { additionalProperties: false });
const TokenParams = Type.Object({ token_id: Id("etok") }, { additionalProperties: false });
const CreateTokenBody = Type.Object(
  { ttl_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TOKEN_TTL_SECONDS })) },
  { additionalProperties: false },
);
const PatchNodeBody = Type.Object(
  {
    state: Type.Union([Type.Literal("active"), Type.Literal("draining"), Type.Literal("disabled")]),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    expected_version: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

const NODE_PROJECTIONS = ["nodes"];
const TAGS = ["nodes"];

const operatorCommand = (
  ctx: RouteContext<unknown, unknown, unknown>,
  deps: RouteDeps,
  log: AuditLogger,
): OperatorCommand => ({
  pool: deps.pool,
  actor: { actorType: ctx.principal.type, actorId: ctx.principal.id, requestId: ctx.requestId },
  idempotency: ctx.idempotency,
  now: deps.now(),
  log,
});

/** Enrollment tokens, node management, and the agent-facing routes. */
export function registerFleetRoutes(app: FastifyInstance, deps: RouteDeps): void {
  registerTokenRoutes(app, deps);
  registerNodeRoutes(app, deps);
  registerAgentRoutes(app, deps);
}

function registerTokenRoutes(app: FastifyInstance, deps: RouteDeps): void {
  // No idempotent replay: the answer holds the secret, which is never stored.
  addRoute<Static<typeof CreateTokenBody>>(app, deps, {
    method: "POST",
    url: "/v1/nodes/enrollment-tokens",
    operationId: "nodes.enrollment_tokens.create",
    summary: "Issue a one-time node enrollment token (shown once)",
    tags: TAGS,
    scope: "nodes:admin",
    body: CreateTokenBody,
    handler: async (ctx) => {
      const ttl = ctx.body?.ttl_seconds ?? DEFAULT_TOKEN_TTL_SECONDS;
      const body = await createEnrollmentToken(deps.pool, ctx.principal.id, ttl, deps.now());
      return { status: 201, body };
    },
  });

  addRoute<unknown, unknown, Static<typeof PageQuery>>(app, deps, {
    method: "GET",
    url: "/v1/nodes/enrollment-tokens",
    operationId: "nodes.enrollment_tokens.list",
    summary: "Enrollment tokens not revoked (never their secrets)",
    tags: TAGS,
    scope: "nodes:admin",
    querystring: PageQuery,
    handler: async (ctx) => {
      const limit = ctx.query.limit ?? 50;
      const { rows } = await deps.pool.query(
        `SELECT token_id, created_by, created_at, expires_at, used_at, used_by_node_id
           FROM enrollment_tokens WHERE revoked_at IS NULL AND token_id > $1 ORDER BY token_id LIMIT $2`,
        [pageAfter(ctx.query.cursor), limit + 1],
      );
      const iso = (d: Date | null) => d?.toISOString() ?? null;
      const items = rows.map((r) => ({
        ...r,
        created_at: iso(r.created_at),
        expires_at: iso(r.expires_at),
        used_at: iso(r.used_at),
      }));
      return { status: 200, body: toPage(items, limit, (t) => t.token_id) };
    },
  });

  addRoute<unknown, Static<typeof TokenParams>>(app, deps, {
    method: "DELETE",
    url: "/v1/nodes/enrollment-tokens/:token_id",
    operationId: "nodes.enrollment_tokens.delete",
    summary: "Revoke an enrollment token",
    tags: TAGS,
    scope: "nodes:admin",
    params: TokenParams,
    handler: async (ctx) => {
      await revokeEnrollmentToken(deps.pool, ctx.params.token_id, deps.now());
      return { status: 204 };
    },
  });
}

function registerNodeRoutes(app: FastifyInstance, deps: RouteDeps): void {
  addRoute<unknown, unknown, Static<typeof PageQuery>>(app, deps, {
    method: "GET",
    url: "/v1/nodes",
    operationId: "nodes.list",
    summary: "Enrolled nodes (revoked ones excluded)",
    tags: TAGS,
    scope: "nodes:admin",
    querystring: PageQuery,
    handler: async (ctx) => {
      const limit = ctx.query.limit ?? 50;
      const rows = await listNodes(deps.pool, pageAfter(ctx.query.cursor), limit + 1);
      return { status: 200, body: toPage(rows, limit, (n) => n.node_id) };
    },
  });

  addRoute<unknown, Static<typeof NodeParams>>(app, deps, {
    method: "GET",
    url: "/v1/nodes/:node",
    operationId: "nodes.get",
    summary: "Read a node",
    tags: TAGS,
    scope: "nodes:admin",
    params: NodeParams,
    handler: async (ctx) => ({ status: 200, body: await readNode(deps.pool, ctx.params.node) }),
  });

  addRoute<Static<typeof PatchNodeBody>, Static<typeof NodeParams>>(app, deps, {
    method: "PATCH",
    url: "/v1/nodes/:node",
    operationId: "nodes.update",
    summary: "Set a node active, draining or disabled",
    tags: TAGS,
    scope: "nodes:admin",
    params: NodeParams,
    body: PatchNodeBody,
    handler: async (ctx) => {
      const r = await setNodeState(operatorCommand(ctx, deps, app.log), ctx.params.node, ctx.body);
      if (r.position) {
        await deps.kernel.watcher.waitFor(r.position, NODE_PROJECTIONS, {
          timeoutMs: deps.projectionWaitTimeoutMs,
        });
      }
      return { status: 200, body: await readNode(deps.pool, ctx.params.node), replayed: r.replayed };
    },
  });

  addRoute<unknown, Static<typeof NodeParams>>(app, deps, {
    method: "DELETE",
    url: "/v1/nodes/:node",
    operationId: "nodes.delete",
    summary: "Revoke a node: its credential stops working, it is disabled",
    tags: TAGS,
    scope: "nodes:admin",
    params: NodeParams,
    handler: async (ctx) => {
      const r = await revokeNode(operatorCommand(ctx, deps, app.log), ctx.params.node, undefined);
      return {
        status: 204,
        replayed: r.replayed,
        wait: { position: r.position, projections: NODE_PROJECTIONS },
      };
    },
  });
}
