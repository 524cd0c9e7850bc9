import {
  type CommandOutcome,
  type IdempotencyRequest,
  KernelError,
  type KernelRuntime,
  type Pool,
  type Position,
  type Projection,
  requestHash,
} from "@plfm/kernel";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { TSchema } from "typebox";
import {
  type AuthSettings,
  authenticate,
  authorizeOrg,
  type OrgAccess,
  type Principal,
} from "../auth/principal.ts";
import type { Scope } from "../auth/scopes.ts";
import type { ExecLimits } from "../exec/limits.ts";
import type { Ipv4Range } from "../networking/ipv4-pool.ts";
import type { Keyring } from "../secrets/keyring.ts";

/** What every route handler may use. */
export interface RouteDeps {
  pool: Pool;
  kernel: KernelRuntime;
  auth: AuthSettings;
  /** Read-your-writes bound (PLFM_PROJECTION_WAIT_TIMEOUT_SECS). */
  projectionWaitTimeoutMs: number;
  now: () => Date;
  /** PLFM_PUBLIC_URL: where users reach the server (the device page); null = the request's own URL. */
  publicUrl?: string | null;
  /** PLFM_IPV4_POOL: the addresses the IPv4 add-on hands out (none when absent). */
  ipv4Pool?: readonly Ipv4Range[];
  /** The secrets master keys; null/absent = none configured (secret writes answer 503). */
  keyring?: Keyring | null;
  /** The projections the server keeps, for operator rebuilds (none when absent). */
  projections?: readonly Projection[];
  /** Exec bounds other than the spec's (tests only: ServerConfig.execLimits). */
  execLimits?: Partial<ExecLimits>;
  /** The server's logger, for background work that has no request to log through. */
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /** The scheduler's settings; null or absent = this server does not schedule. */
  scheduler?: { tickMs?: number; heartbeatTimeoutMs?: number } | null;
}

export interface RouteContext<B, P, Q> {
  body: B;
  params: P;
  query: Q;
  principal: Principal;
  /** Set on routes under `/orgs/:org`. */
  org: OrgAccess | null;
  /** Set on mutations that carried an Idempotency-Key. */
  idempotency: IdempotencyRequest | null;
  requestId: string;
  deps: RouteDeps;
}

/** A handler's answer: the body, and for writes where its events landed. */
export interface RouteResult {
  status: number;
  body?: unknown;
  /** Wait until these projections pass `position` before answering (read-your-writes). */
  wait?: { position: Position | null; projections: readonly string[] };
  replayed?: boolean;
}

/** A write's answer (204 when there is no body), once `projections` have caught up. */
export function written<R>(
  status: number,
  r: CommandOutcome<R>,
  projections: readonly string[],
): RouteResult {
  return {
    status: r.response === null ? 204 : status,
    ...(r.response === null ? {} : { body: r.response }),
    replayed: r.replayed,
    wait: { position: r.position, projections },
  };
}

export interface RouteSpec<B, P, Q> {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  url: string;
  /** Stable endpoint name: the OpenAPI operationId and the idempotency scope. */
  operationId: string;
  summary: string;
  tags: string[];
  /** Scope required; with `:org` in the url it is checked against the member's role. */
  scope: Scope | null;
  body?: TSchema;
  params?: TSchema;
  querystring?: TSchema;
  /** Documented responses by status (OpenAPI only; not enforced). */
  response?: Record<number, TSchema>;
  handler: (ctx: RouteContext<B, P, Q>) => Promise<RouteResult>;
}

const MUTATIONS = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const IDEMPOTENCY_KEY_RE = /^[\x21-\x7e]{8,128}$/;

/**
 * Registers one API route with the conventions every endpoint shares:
 * authentication, org membership and scope, the Idempotency-Key on
 * mutations, and read-your-writes before answering.
 */
export function addRoute<B = unknown, P = unknown, Q = unknown>(
  app: FastifyInstance,
  deps: RouteDeps,
  spec: RouteSpec<B, P, Q>,
): void {
  const mutation = MUTATIONS.has(spec.method);
  app.route({
    method: spec.method,
    url: spec.url,
    schema: {
      operationId: spec.operationId,
      summary: spec.summary,
      tags: spec.tags,
      // The scope a call needs, as OpenAPI lists scopes of a bearer scheme (clients and conformance tests read it).
      security: [{ bearer: spec.scope ? [spec.scope] : [] }],
      ...(spec.body ? { body: spec.body } : {}),
      ...(spec.params ? { params: spec.params } : {}),
      ...(spec.querystring ? { querystring: spec.querystring } : {}),
      ...(mutation
        ? {
            headers: {
              type: "object",
              properties: { "idempotency-key": { type: "string", minLength: 8, maxLength: 128 } },
            },
          }
        : {}),
      ...(spec.response ? { response: spec.response } : {}),
    },
    // Before validation: an anonymous or foreign caller gets 401/403, never a 400
    // that would tell it about the body or the ids (tenant isolation).
    preValidation: async (request: FastifyRequest) => {
      accessByRequest.set(request, await authorizeRequest(deps, request, spec.scope));
    },
    handler: async (request: FastifyRequest, reply: FastifyReply) => {
      const { principal, org } =
        accessByRequest.get(request) ?? (await authorizeRequest(deps, request, spec.scope));
      const params = (request.params ?? {}) as P & { org?: string };
      const idempotency = mutation ? idempotencyFor(request, spec.operationId, principal, org) : null;
      const result = await spec.handler({
        body: request.body as B,
        params,
        query: request.query as Q,
        principal,
        org,
        idempotency,
        requestId: request.id,
        deps,
      });
      if (result.wait) {
        await deps.kernel.watcher.waitFor(result.wait.position, result.wait.projections, {
          timeoutMs: deps.projectionWaitTimeoutMs,
        });
      }
      if (result.replayed) reply.header("idempotency-replayed", "true");
      reply.code(result.status);
      return result.body === undefined ? reply.send() : reply.send(result.body);
    },
  });
}

const accessByRequest = new WeakMap<FastifyRequest, { principal: Principal; org: OrgAccess | null }>();

/**
 * Authenticates the caller and checks `scope`: against the member's role on
 * urls with `:org`, against the token alone elsewhere.
 */
export async function authorizeRequest(
  deps: RouteDeps,
  request: FastifyRequest,
  scope: Scope | null,
): Promise<{ principal: Principal; org: OrgAccess | null }> {
  const principal = await authenticate(deps.pool, request.headers.authorization, deps.auth, deps.now());
  const params = (request.params ?? {}) as { org?: unknown };
  const org =
    typeof params.org === "string" ? await authorizeOrg(deps.pool, principal, params.org, scope) : null;
  if (!org && scope !== null) requireGlobalScope(principal, scope);
  return { principal, org };
}

/** Scopes outside any org come from the token (and operator status) alone. */
function requireGlobalScope(principal: Principal, scope: Scope): void {
  const has = principal.tokenScopes.has(scope) || (scope === "nodes:admin" && principal.operator);
  if (!has) throw new KernelError("insufficient_scope", `This needs the ${scope} scope.`);
}

function idempotencyFor(
  request: FastifyRequest,
  endpoint: string,
  principal: Principal,
  org: OrgAccess | null,
): IdempotencyRequest | null {
  const raw = request.headers["idempotency-key"];
  if (raw === undefined) return null;
  const key = Array.isArray(raw) ? raw[0] : raw;
  if (key === undefined || !IDEMPOTENCY_KEY_RE.test(key)) {
    throw new KernelError("invalid_argument", "Idempotency-Key must be 8 to 128 printable characters.", {
      details: [
        { field: "Idempotency-Key", code: "invalid_length", message: "8 to 128 printable characters" },
      ],
    });
  }
  return {
    scope: org?.orgId ?? "_global",
    actorId: principal.id,
    endpoint,
    key,
    // The path is part of the request: one key sent to two resources (DELETE
    // on two apps) is a reuse, not a replay.
    requestHash: requestHash(`${endpoint} ${request.url.split("?", 1)[0]}`, request.body ?? null),
  };
}
