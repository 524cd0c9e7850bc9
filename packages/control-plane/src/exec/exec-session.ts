// The exec session aggregate (spec platform.md §2.2, §3.4, §7.8): granted →
// connected → ended, each step once. Pure: the token, the sockets and the
// rate limits live on the command side (grant.ts, relay.ts).
import { KernelError, type NewEvent, type StoredEvent } from "@plfm/kernel";

export const EXEC_SESSION = "exec_session";

export type ExecStatus = "none" | "granted" | "connected" | "ended";

/** Why a session ended: the agent's exit, or one of the server's reasons (§7.8). */
export type EndReason =
  | "exited"
  | "client_disconnect"
  | "agent_disconnect"
  | "connect_timeout"
  | "timeout"
  | "operator_revoked"
  | "token_expired"
  | "server_shutdown";

export interface ExecSessionState {
  status: ExecStatus;
  orgId: string;
  appId: string;
  envId: string;
  instanceId: string;
  nodeId: string;
  command: string[];
  tty: boolean;
  /** When the session must end at the latest (granted_at + session_ttl_seconds). */
  expiresAt: string;
  connectTimeoutSeconds: number;
  version: number;
}

export const initialExecSession = (): ExecSessionState => ({
  status: "none",
  orgId: "",
  appId: "",
  envId: "",
  instanceId: "",
  nodeId: "",
  command: [],
  tty: false,
  expiresAt: "",
  connectTimeoutSeconds: 0,
  version: 0,
});

export function evolveExecSession(s: ExecSessionState, e: StoredEvent): ExecSessionState {
  const p = e.payload as Record<string, unknown>;
  const base = { ...s, version: e.aggregateSeq };
  switch (e.eventType) {
    case "exec_session.granted":
      return {
        ...base,
        status: "granted",
        orgId: String(p.org_id),
        appId: String(p.app_id),
        envId: String(p.env_id),
        instanceId: String(p.instance_id),
        nodeId: String(p.node_id),
        command: (p.requested_command as string[]) ?? [],
        tty: p.tty === true,
        expiresAt: String(p.expires_at),
        connectTimeoutSeconds: Number(p.connect_timeout_seconds),
      };
    case "exec_session.connected":
      return { ...base, status: "connected" };
    case "exec_session.ended":
      return { ...base, status: "ended" };
    default:
      return base;
  }
}

export const execSessionAggregate = {
  aggregateType: EXEC_SESSION,
  initial: initialExecSession,
  evolve: evolveExecSession,
};

export interface GrantFields {
  orgId: string;
  appId: string;
  envId: string;
  instanceId: string;
  nodeId: string;
  command: string[];
  tty: boolean;
  expiresAt: Date;
  tokenExpiresAt: Date;
  connectTimeoutSeconds: number;
}

const event = (s: Pick<ExecSessionState, "orgId" | "appId" | "envId">, id: string) => ({
  aggregateType: EXEC_SESSION,
  aggregateId: id,
  orgId: s.orgId,
  appId: s.appId,
  envId: s.envId,
});

/** A new session. The payload never holds the token (only its hash is stored, and not in the log). */
export function decideGrant(s: ExecSessionState, id: string, f: GrantFields): NewEvent[] {
  if (s.status !== "none") throw new KernelError("conflict", "This exec session exists already.");
  return [
    {
      ...event(f, id),
      eventType: "exec_session.granted",
      payload: {
        exec_session_id: id,
        org_id: f.orgId,
        app_id: f.appId,
        env_id: f.envId,
        instance_id: f.instanceId,
        node_id: f.nodeId,
        requested_command: f.command,
        tty: f.tty,
        expires_at: f.expiresAt.toISOString(),
        token_expires_at: f.tokenExpiresAt.toISOString(),
        connect_timeout_seconds: f.connectTimeoutSeconds,
      },
    },
  ];
}

/**
 * The client opened the socket with the session's token. `node_id` rides along
 * so every replica's plan stream can tell, from the event alone, whether the
 * exec_request is for its node.
 */
export function decideConnect(s: ExecSessionState, id: string, at: Date): NewEvent[] {
  if (s.status !== "granted") throw new KernelError("invalid_token", "The session token is not valid.");
  return [
    {
      ...event(s, id),
      eventType: "exec_session.connected",
      payload: {
        exec_session_id: id,
        org_id: s.orgId,
        env_id: s.envId,
        instance_id: s.instanceId,
        node_id: s.nodeId,
        connected_at: at.toISOString(),
      },
    },
  ];
}

/** Ends a live session; an ended one stays as it is (every path ends a session exactly once). */
export function decideEnd(
  s: ExecSessionState,
  id: string,
  at: Date,
  exitCode: number | null,
  reason: EndReason,
): NewEvent[] {
  if (s.status === "none") throw new KernelError("not_found", "No such exec session.");
  if (s.status === "ended") return [];
  return [
    {
      ...event(s, id),
      eventType: "exec_session.ended",
      payload: {
        exec_session_id: id,
        org_id: s.orgId,
        env_id: s.envId,
        instance_id: s.instanceId,
        ended_at: at.toISOString(),
        exit_code: exitCode,
        end_reason: reason,
      },
    },
  ];
}
