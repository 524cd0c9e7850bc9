// Node credentials (spec platform.md §0.6, §7.1, compliance 45): a node's
// bearer credential opens its own /v1/nodes/{node}/… and nothing else.
import { KernelError, type Queryable } from "@plfm/kernel";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { TSchema } from "typebox";
import { hashToken, TOKEN_PREFIX } from "../auth/tokens.ts";

const BEARER_RE = /^Bearer ([\x21-\x7e]{1,512})$/;

/**
 * The node id a credential belongs to, checked against the path's node:
 * no or a malformed header → 401 unauthorized / invalid_authorization; an
 * unknown, expired (rotated away > 10 min ago) or revoked credential → 401
 * invalid_token; another node's valid credential → 403 forbidden.
 */
export async function authenticateNode(
  db: Queryable,
  header: string | undefined,
  nodeIdInPath: string,
  now: Date,
): Promise<string> {
  if (header === undefined || header === "") {
    throw new KernelError("unauthorized", "This endpoint needs the node's credential as a Bearer token.");
  }
  const m = BEARER_RE.exec(header);
  if (!m?.[1])
    throw new KernelError("invalid_authorization", "The Authorization header must be `Bearer <token>`.");
  const token = m[1];
  if (!token.startsWith(TOKEN_PREFIX.node)) {
    throw new KernelError("invalid_token", "Node endpoints take a node credential (plfm_node_…).");
  }
  const { rows } = await db.query<{ node_id: string }>(
    `SELECT node_id FROM node_credentials
      WHERE credential_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`,
    [hashToken(token), now],
  );
  const nodeId = rows[0]?.node_id;
  if (nodeId === undefined) throw new KernelError("invalid_token", "The node credential is not valid.");
  if (nodeId !== nodeIdInPath) {
    throw new KernelError("forbidden", "A node credential opens only its own node's endpoints.");
  }
  return nodeId;
}

/** A route under /v1/nodes/:node/… that only that node's credential opens. */
export interface NodeRouteSpec<B> {
  method: "GET" | "POST";
  url: string;
  operationId: string;
  summary: string;
  body?: TSchema;
  params: TSchema;
  response?: Record<number, TSchema>;
  /** Bytes of request body accepted (fastify's default, 1 MiB, when absent). */
  bodyLimit?: number;
  handler: (ctx: { nodeId: string; body: B; request: FastifyRequest }) => Promise<{
    status: number;
    body: unknown;
  }>;
}

const nodeByRequest = new WeakMap<FastifyRequest, string>();

/** authenticateNode for a request under /v1/nodes/:node/…. */
export function authenticateRequestNode(db: Queryable, request: FastifyRequest, now: Date): Promise<string> {
  const { node } = (request.params ?? {}) as { node?: unknown };
  return authenticateNode(db, request.headers.authorization, typeof node === "string" ? node : "", now);
}

/** Registers a node route: the credential is checked before the handler runs. */
export function addNodeRoute<B>(
  app: FastifyInstance,
  db: Queryable,
  now: () => Date,
  spec: NodeRouteSpec<B>,
): void {
  app.route({
    method: spec.method,
    url: spec.url,
    ...(spec.bodyLimit !== undefined ? { bodyLimit: spec.bodyLimit } : {}),
    schema: {
      operationId: spec.operationId,
      summary: spec.summary,
      tags: ["nodes-agent"],
      security: [{ bearer: [] }],
      params: spec.params,
      ...(spec.body ? { body: spec.body } : {}),
      ...(spec.response ? { response: spec.response } : {}),
    },
    // Before validation, as every route: anonymous and foreign callers learn nothing from a 400.
    preValidation: async (request) => {
      nodeByRequest.set(request, await authenticateRequestNode(db, request, now()));
    },
    handler: async (request, reply) => {
      const nodeId = nodeByRequest.get(request) ?? (await authenticateRequestNode(db, request, now()));
      const result = await spec.handler({ nodeId, body: request.body as B, request });
      reply.header("cache-control", "no-store");
      return reply.code(result.status).send(result.body);
    },
  });
}
