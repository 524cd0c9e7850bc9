// HTTP: the exec grant on E/instances/{instance}/exec, and /v1/exec-sessions/{id}
// GET and DELETE (spec platform.md §4.4, §7.8), E = /v1/orgs/{org}/apps/{app}/envs/{env}.
import { isKernelError, KernelError, type Queryable } from "@plfm/kernel";
import type { FastifyInstance } from "fastify";
import type { Static } from "typebox";
import { authorizeOrg, type Principal } from "../auth/principal.ts";
import { addRoute, type RouteDeps } from "../http/route.ts";
import { endSession, grantExec } from "./commands.ts";
import type { ExecLimits } from "./limits.ts";
import type { ExecRelay } from "./relay.ts";
import { ExecSession, Grant, type GrantBody, grantBody, InstanceParams, SessionParams } from "./schemas.ts";

const E = "/v1/orgs/:org/apps/:app/envs/:env";
const PROJECTIONS = ["exec_sessions"];

interface SessionRow {
  exec_session_id: string;
  org_id: string;
  app_id: string;
  env_id: string;
  instance_id: string;
  requested_command: string[];
  tty: boolean;
  status: "granted" | "connected" | "ended";
  expires_at: Date;
  connect_timeout_seconds: number;
  granted_at: Date;
  connected_at: Date | null;
  ended_at: Date | null;
  exit_code: number | null;
  end_reason: string | null;
  resource_version: number;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const toView = (r: SessionRow) => ({
  session_id: r.exec_session_id,
  org_id: r.org_id,
  app_id: r.app_id,
  env_id: r.env_id,
  instance_id: r.instance_id,
  requested_command: r.requested_command,
  tty: r.tty,
  status: r.status,
  expires_at: r.expires_at.toISOString(),
  connect_timeout_seconds: r.connect_timeout_seconds,
  granted_at: r.granted_at.toISOString(),
  connected_at: iso(r.connected_at),
  ended_at: iso(r.ended_at),
  exit_code: r.exit_code,
  end_reason: r.end_reason,
  resource_version: r.resource_version,
});

const noSession = () => new KernelError("not_found", "No such exec session.");

/**
 * The session's org, checked like a path's `:org` (membership, then exec:write).
 * The path has no org, so a non-member gets the 404 an unknown id gets: ids
 * cannot be probed. Read from the command side, never behind the log.
 */
async function authorizeSession(db: Queryable, principal: Principal, id: string): Promise<void> {
  const { rows } = await db.query<{ org_id: string }>(
    "SELECT org_id FROM exec_session_tokens WHERE session_id = $1",
    [id],
  );
  const orgId = rows[0]?.org_id;
  if (orgId === undefined) throw noSession();
  try {
    await authorizeOrg(db, principal, orgId, "exec:write");
  } catch (err) {
    if (isKernelError(err, "org_access_denied")) throw noSession();
    throw err;
  }
}

async function readSession(db: Queryable, id: string): Promise<SessionRow> {
  const { rows } = await db.query<SessionRow>("SELECT * FROM exec_sessions WHERE exec_session_id = $1", [id]);
  const row = rows[0];
  if (!row) throw noSession();
  return row;
}

export function registerExecRoutes(
  app: FastifyInstance,
  deps: RouteDeps,
  relay: ExecRelay,
  limits: ExecLimits,
): void {
  addRoute<GrantBody, Static<typeof InstanceParams>>(app, deps, {
    method: "POST",
    url: `${E}/instances/:instance/exec`,
    operationId: "exec.grant",
    summary:
      "Grant an exec session on a ready instance: a single-use token for the WebSocket at connect_url. " +
      "With an Idempotency-Key, a replay answers 409 conflict: the token is shown once and only its hash is kept.",
    tags: ["exec"],
    scope: "exec:write",
    params: InstanceParams,
    body: grantBody(limits),
    response: { 201: Grant },
    handler: async (ctx) => {
      const { org, app: appId, env, instance } = ctx.params;
      const r = await grantExec(
        {
          pool: deps.pool,
          principal: ctx.principal,
          idempotency: ctx.idempotency,
          requestId: ctx.requestId,
          now: deps.now(),
          log: app.log,
          limits,
        },
        { orgId: org, appId, envId: env, instanceId: instance },
        ctx.body,
      );
      if (r.token === null) {
        throw new KernelError(
          "conflict",
          "This Idempotency-Key already granted a session; its token was shown once. Grant again with a new key.",
          { extra: { session_id: r.response.session_id } },
        );
      }
      relay.watchToken(r.response.session_id, r.tokenExpiresAt);
      return {
        status: 201,
        body: { ...r.response, session_token: r.token },
        wait: { position: r.position, projections: PROJECTIONS },
      };
    },
  });

  addRoute<unknown, Static<typeof SessionParams>>(app, deps, {
    method: "GET",
    url: "/v1/exec-sessions/:id",
    operationId: "exec.get",
    summary: "Read an exec session",
    tags: ["exec"],
    scope: "exec:write",
    params: SessionParams,
    response: { 200: ExecSession },
    handler: async (ctx) => {
      await authorizeSession(deps.pool, ctx.principal, ctx.params.id);
      return { status: 200, body: toView(await readSession(deps.pool, ctx.params.id)) };
    },
  });

  addRoute<unknown, Static<typeof SessionParams>>(app, deps, {
    method: "DELETE",
    url: "/v1/exec-sessions/:id",
    operationId: "exec.delete",
    summary: "End an exec session (end_reason operator_revoked); an ended one stays as it is",
    tags: ["exec"],
    scope: "exec:write",
    params: SessionParams,
    handler: async (ctx) => {
      const id = ctx.params.id;
      await authorizeSession(deps.pool, ctx.principal, id);
      const meta = { actorType: ctx.principal.type, actorId: ctx.principal.id, requestId: ctx.requestId };
      // Held here: the sockets are told and closed, then the end is appended.
      const r =
        (await relay.revoke(id, meta)) ??
        (await endSession(deps.pool, id, null, "operator_revoked", deps.now(), meta));
      return { status: 204, wait: { position: r.position, projections: PROJECTIONS } };
    },
  });
}
