// The exec relay of one server process: the sessions whose client socket this
// process holds, and the splice between that socket and the agent's.
//
// Session states, per process: registered (token consumed, connected event
// committing; no sockets yet) → client attached (client frames buffered until
// the agent comes) → spliced (both sockets; frames flow both ways) → finished.
// Every way to finish goes through `finish`, which runs once per session and
// appends the one exec_session.ended:
//   agent sends 0x11          → forwarded to the client, end `exited`;
//   agent not attached within connect_timeout → client gets 0x11, `connect_timeout`;
//   client socket closes      → agent gets 0x10 {type close}, `client_disconnect`;
//   agent socket closes first → client gets 0x11, `agent_disconnect`;
//   session reaches expires_at → both told, `timeout`;
//   DELETE /v1/exec-sessions/{id} → both told, `operator_revoked`.
// A granted session whose token expires unused ends `token_expired` (a timer
// in the granting process).
//
// Cross-replica splicing is out of scope: the agent must dial the replica that
// holds the client socket. An attach that lands on another replica is refused
// (404), the client then sees `connect_timeout`; a DELETE on another replica
// appends the end but cannot close sockets held here (they end at the next
// frame or at expires_at). A shared relay (or routing by session id) is the fix.
import { type CommandMeta, KernelError, newId, type Pool } from "@plfm/kernel";
import type { RawData, WebSocket } from "ws";
import { type ConnectedSession, type EndResult, endSession, relayMeta } from "./commands.ts";
import type { EndReason } from "./exec-session.ts";
import { closeFrame, exitCodeOf, exitFrame, FRAME, FROM_AGENT, FROM_CLIENT, toBuffer } from "./frames.ts";

/** Client input buffered while no agent is attached. */
const MAX_PENDING_BYTES = 1 << 20;
/** setTimeout's ceiling (~24.8 days); longer deadlines are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface LiveSession {
  s: ConnectedSession;
  client: WebSocket | null;
  agent: WebSocket | null;
  pending: Buffer[];
  pendingBytes: number;
  timers: NodeJS.Timeout[];
  finished: boolean;
}

export interface RelayDeps {
  pool: Pool;
  now: () => Date;
  log: { error(obj: object, msg?: string): void };
}

export class ExecRelay {
  private readonly live = new Map<string, LiveSession>();
  private readonly tokenTimers = new Map<string, NodeJS.Timeout>();
  private readonly ends = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly deps: RelayDeps) {}

  has(id: string): boolean {
    return this.live.has(id);
  }

  /**
   * The token was consumed (inside its transaction): arm the connect timeout
   * and the session deadline. False when the session was registered already.
   */
  register(s: ConnectedSession): boolean {
    if (this.live.has(s.sessionId)) return false;
    const entry: LiveSession = {
      s,
      client: null,
      agent: null,
      pending: [],
      pendingBytes: 0,
      timers: [],
      finished: false,
    };
    this.live.set(s.sessionId, entry);
    this.clearTokenTimer(s.sessionId);
    entry.timers.push(
      setTimeout(() => {
        if (!entry.agent) this.finish(entry, null, "connect_timeout");
      }, s.connectTimeoutSeconds * 1000),
    );
    this.armDeadline(entry, new Date(s.expiresAt).getTime());
    return true;
  }

  /** The connect's transaction failed after `register`: nothing happened. */
  forget(id: string): void {
    const entry = this.live.get(id);
    if (!entry) return;
    for (const t of entry.timers) clearTimeout(t);
    this.live.delete(id);
  }

  attachClient(id: string, ws: WebSocket): void {
    const entry = this.live.get(id);
    if (!entry || entry.finished) {
      ws.close(1011, "session is over");
      return;
    }
    entry.client = ws;
    ws.on("message", (data: RawData) => {
      const frame = toBuffer(data);
      if (frame.length === 0 || !FROM_CLIENT.has(frame[0] as number)) return;
      if (entry.agent) {
        entry.agent.send(frame);
      } else if (entry.pendingBytes + frame.length <= MAX_PENDING_BYTES) {
        entry.pending.push(frame);
        entry.pendingBytes += frame.length;
      }
    });
    ws.on("close", () => this.finish(entry, null, "client_disconnect"));
  }

  /** The agent dialled in: splice, and flush what the client typed meanwhile. False when no such live session. */
  attachAgent(id: string, ws: WebSocket): boolean {
    const entry = this.live.get(id);
    if (!entry || entry.finished || entry.agent) {
      ws.close(1008, "no live session to attach to");
      return false;
    }
    entry.agent = ws;
    for (const f of entry.pending) ws.send(f);
    entry.pending = [];
    entry.pendingBytes = 0;
    ws.on("message", (data: RawData) => {
      const frame = toBuffer(data);
      const kind = frame[0];
      if (kind === FRAME.exit) {
        this.finish(entry, exitCodeOf(frame), "exited", frame);
      } else if (kind !== undefined && FROM_AGENT.has(kind)) {
        entry.client?.send(frame);
      }
    });
    ws.on("close", () => this.finish(entry, null, "agent_disconnect"));
    return true;
  }

  /** DELETE: ends a session held here; null when this process does not hold it. */
  async revoke(id: string, meta: CommandMeta): Promise<EndResult | null> {
    const entry = this.live.get(id);
    if (!entry) return null;
    const r = await this.finish(entry, null, "operator_revoked", undefined, meta);
    if (!r) throw new KernelError("internal", "ending the exec session failed");
    return r;
  }

  /** A granted session whose token nobody used ends when the token expires. */
  watchToken(id: string, expiresAt: Date): void {
    const ms = Math.max(0, expiresAt.getTime() - this.deps.now().getTime()) + 50;
    if (ms > MAX_TIMER_MS) return;
    const timer = setTimeout(() => {
      this.tokenTimers.delete(id);
      if (this.closed || this.live.has(id)) return;
      this.track(this.endIfUnused(id));
    }, ms);
    timer.unref();
    this.tokenTimers.set(id, timer);
  }

  /** Stops timers and waits for the ends in flight (the pool closes after this). */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.tokenTimers.values()) clearTimeout(t);
    this.tokenTimers.clear();
    await Promise.allSettled([...this.live.values()].map((e) => this.finish(e, null, "server_shutdown")));
    await Promise.allSettled([...this.ends]);
  }

  private async endIfUnused(id: string): Promise<void> {
    const { rows } = await this.deps.pool.query(
      "SELECT 1 FROM exec_session_tokens WHERE session_id = $1 AND used_at IS NULL AND ended_at IS NULL",
      [id],
    );
    if (rows.length === 0) return;
    await endSession(this.deps.pool, id, null, "token_expired", this.deps.now(), relayMeta(newId("req")));
  }

  private armDeadline(entry: LiveSession, at: number): void {
    const ms = Math.max(0, at - this.deps.now().getTime());
    entry.timers.push(
      setTimeout(
        () => (ms > MAX_TIMER_MS ? this.armDeadline(entry, at) : this.finish(entry, null, "timeout")),
        Math.min(ms, MAX_TIMER_MS),
      ),
    );
  }

  private clearTokenTimer(id: string): void {
    const t = this.tokenTimers.get(id);
    if (t) clearTimeout(t);
    this.tokenTimers.delete(id);
  }

  /**
   * Runs once per session: tells whichever side did not cause the end, closes
   * both sockets, and appends exec_session.ended. `exit` is the agent's own
   * 0x11 frame, forwarded as it came.
   */
  private finish(
    entry: LiveSession,
    exitCode: number | null,
    reason: EndReason,
    exit?: Buffer,
    meta?: CommandMeta,
  ): Promise<EndResult | null> {
    if (entry.finished) return Promise.resolve(null);
    entry.finished = true;
    for (const t of entry.timers) clearTimeout(t);
    this.live.delete(entry.s.sessionId);
    const { client, agent } = entry;
    if (client && client.readyState === client.OPEN) {
      client.send(exit ?? exitFrame(exitCode, reason));
      client.close(1000, reason);
    }
    if (agent && agent.readyState === agent.OPEN) {
      if (reason !== "exited" && reason !== "agent_disconnect") agent.send(closeFrame());
      agent.close(1000, reason);
    }
    const id = entry.s.sessionId;
    return this.track(
      endSession(this.deps.pool, id, exitCode, reason, this.deps.now(), meta ?? relayMeta(newId("req"))),
    );
  }

  /** Never rejects (callers include timers and socket events): a failure is logged and answers null. */
  private track<T>(p: Promise<T>): Promise<T | null> {
    const tracked: Promise<T | null> = p
      .catch((err) => {
        this.deps.log.error({ err, component: "exec-relay" }, "ending an exec session failed");
        return null;
      })
      .finally(() => this.ends.delete(tracked));
    this.ends.add(tracked);
    return tracked;
  }
}
