// The exec WebSockets (spec platform.md §4.4, §7.8): the client's
// /v1/exec-sessions/{id}/connect and the agent's
// /v1/nodes/{node}/exec-sessions/{id}/attach. Both are checked in
// preValidation, before the upgrade, so a refusal is an ordinary 401/403/404
// problem answer rather than a socket that opens and closes.
//
// @fastify/websocket hides websocket routes from the OpenAPI document (it sets
// schema.hide), so the conformance walks never see them; exec.test.ts covers
// their refusals instead.
import { KernelError, type Pool } from "@plfm/kernel";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { TOKEN_PREFIX } from "../auth/tokens.ts";
import { authenticateNode } from "../fleet/index.ts";
import type { RouteDeps } from "../http/route.ts";
import { consumeToken } from "./commands.ts";
import type { ExecRelay } from "./relay.ts";
import { AttachParams, ConnectQuery, SessionParams } from "./schemas.ts";

const BEARER_RE = /^Bearer ([\x21-\x7e]{1,512})$/;

/** The exec token from `Authorization: Bearer plfm_ex_…` or `?token=`; the header wins. */
function execToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const fromHeader = header ? BEARER_RE.exec(header)?.[1] : undefined;
  const fromQuery = (request.query as { token?: unknown } | undefined)?.token;
  const token = fromHeader ?? (typeof fromQuery === "string" ? fromQuery : undefined);
  if (token === undefined || token === "") {
    throw new KernelError("unauthorized", "Connect with the session token in Authorization or ?token=.");
  }
  if (!token.startsWith(TOKEN_PREFIX.exec))
    throw new KernelError("invalid_token", "The session token is not valid.");
  return token;
}

function requireUpgrade(request: FastifyRequest): void {
  // A plain GET must not burn the single-use token on a socket that never opens.
  if (!request.ws) throw new KernelError("invalid_argument", "This endpoint takes a WebSocket upgrade.");
}

const idOf = (request: FastifyRequest) => String((request.params as { id?: unknown }).id ?? "");

async function sessionNode(pool: Pool, id: string): Promise<string> {
  const { rows } = await pool.query<{ node_id: string }>(
    "SELECT node_id FROM exec_session_tokens WHERE session_id = $1",
    [id],
  );
  const node = rows[0]?.node_id;
  if (node === undefined) throw new KernelError("not_found", "No such exec session.");
  return node;
}

export function registerExecSockets(scope: FastifyInstance, deps: RouteDeps, relay: ExecRelay): void {
  scope.route({
    method: "GET",
    url: "/v1/exec-sessions/:id/connect",
    websocket: true,
    schema: { params: SessionParams, querystring: ConnectQuery },
    preValidation: async (request) => {
      requireUpgrade(request);
      const token = execToken(request);
      const id = idOf(request);
      let registered = false;
      try {
        await consumeToken(deps.pool, id, token, deps.now(), request.id, (s) => {
          registered = relay.register(s) || registered;
        });
      } catch (err) {
        // Only what this attempt registered: a refused second connect must not touch the live session.
        if (registered) relay.forget(id);
        throw err;
      }
    },
    handler: (socket, request) => {
      relay.attachClient(idOf(request), socket);
    },
  });

  scope.route({
    method: "GET",
    url: "/v1/nodes/:node/exec-sessions/:id/attach",
    websocket: true,
    schema: { params: AttachParams },
    preValidation: async (request) => {
      requireUpgrade(request);
      const { node } = request.params as { node?: unknown };
      const nodeId = await authenticateNode(
        deps.pool,
        request.headers.authorization,
        typeof node === "string" ? node : "",
        deps.now(),
      );
      const id = idOf(request);
      if ((await sessionNode(deps.pool, id)) !== nodeId) {
        throw new KernelError(
          "forbidden",
          "Only the node hosting the instance attaches to its exec session.",
        );
      }
      if (!relay.has(id)) {
        throw new KernelError("not_found", "The session is not waiting for an agent on this server.");
      }
    },
    handler: (socket, request) => {
      relay.attachAgent(idOf(request), socket);
    },
  });
}
