// Shared by the exec tests: a server with an org, an env, two nodes and ready
// instances; a WebSocket client; and a simulated agent that reads exec_request
// from its plan stream and dials attach. Not used in production.
import assert from "node:assert/strict";
import { newId } from "@plfm/kernel";
import WebSocket from "ws";
import { allocateInstance } from "../apps/test-allocate.ts";
import { bearer, enrollNode, OPERATOR_EMAIL } from "../fleet/test-kit.ts";
import { type HttpTestServer, startHttpTestServer } from "../http/test-server.ts";
import { user } from "../tenancy/http-test-kit.ts";

export const alice = user("alice@example.com");
export const bob = user("bob@example.com");

export interface Node {
  nodeId: string;
  credential: string;
}

export interface World {
  t: HttpTestServer;
  orgId: string;
  appId: string;
  envId: string;
  envUrl: string;
  node1: Node;
  node2: Node;
}

async function created(t: HttpTestServer, path: string, auth: string, body: unknown, id: string) {
  const r = await t.call("POST", path, { auth, body });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return String(r.body[id]);
}

/** A server whose exec timeout floors are 1 s, so timeouts run in a test. */
export async function startWorld(): Promise<World> {
  const t = await startHttpTestServer({
    operators: [OPERATOR_EMAIL],
    logLevel: "info",
    config: { execLimits: { minConnectTimeoutSeconds: 1, minSessionTtlSeconds: 1 } },
  });
  const orgId = await created(t, "/v1/orgs", alice, { name: "org-a" }, "org_id");
  await created(t, "/v1/orgs", bob, { name: "org-b" }, "org_id");
  const appId = await created(t, `/v1/orgs/${orgId}/apps`, alice, { name: "shop" }, "app_id");
  const envId = await created(t, `/v1/orgs/${orgId}/apps/${appId}/envs`, alice, { name: "prod" }, "env_id");
  const node1 = await enrollNode(t, { hostname: "worker-1" });
  const node2 = await enrollNode(t, { hostname: "worker-2" });
  return { t, orgId, appId, envId, envUrl: `/v1/orgs/${orgId}/apps/${appId}/envs/${envId}`, node1, node2 };
}

let clock = 0;

/** Places an instance on `node` as the scheduler will, and reports `status` for it (none: left allocated). */
export async function instance(w: World, node: Node, status: string | null = "ready"): Promise<string> {
  const instanceId = await allocateInstance(w.t, {
    orgId: w.orgId,
    appId: w.appId,
    envId: w.envId,
    nodeId: node.nodeId,
  });
  if (status !== null) {
    const s = await w.t.call("POST", `/v1/nodes/${node.nodeId}/instances/${instanceId}/status`, {
      auth: bearer(node.credential),
      body: {
        reported_at: new Date(Date.UTC(2026, 0, 1, 0, 0, ++clock)).toISOString(),
        status,
        boot_id: newId("boot"),
      },
    });
    assert.equal(s.status, 200, JSON.stringify(s.body));
  }
  return instanceId;
}

export interface GrantReply {
  session_id: string;
  connect_url: string;
  session_token: string;
  expires_in_seconds: number;
}

export async function grant(w: World, inst: string, body: Record<string, unknown> = {}): Promise<GrantReply> {
  const r = await w.t.call("POST", `${w.envUrl}/instances/${inst}/exec`, {
    auth: alice,
    body: { command: ["sh", "-c", "cat"], tty: false, ...body },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body as unknown as GrantReply;
}

export const wsUrl = (w: World, path: string) => w.t.server.url.replace(/^http/, "ws") + path;

/** One side of a socket: every binary message it received, and when it closed. */
export class Peer {
  readonly frames: Buffer[] = [];
  readonly closed: Promise<number>;
  private waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on("message", (data: Buffer) => {
      this.frames.push(Buffer.from(data));
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => ws.on("close", (code: number) => resolve(code)));
  }

  send(kind: number, payload: string | object): void {
    const body = typeof payload === "string" ? payload : JSON.stringify(payload);
    this.ws.send(Buffer.concat([Buffer.from([kind]), Buffer.from(body)]));
  }

  /** The first frame of `kind`, waiting up to `ms`. */
  async frame(kind: number, ms = 5000): Promise<Buffer> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.frames.find((f) => f[0] === kind);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame 0x${kind.toString(16)} within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

export const json = (frame: Buffer) => JSON.parse(frame.subarray(1).toString("utf8"));

/** Opens a WebSocket: the open Peer, or the HTTP status and problem of a refused upgrade. */
export function dial(
  url: string,
  headers: Record<string, string> = {},
): Promise<Peer | { status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const peer = new Peer(ws);
    ws.on("open", () => resolve(peer));
    ws.on("unexpected-response", (_req, res) => {
      let text = "";
      res.on("data", (c: Buffer) => {
        text += c.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
    });
    ws.on("error", reject);
  });
}

export async function dialOpen(url: string, headers: Record<string, string> = {}): Promise<Peer> {
  const r = await dial(url, headers);
  assert.ok(r instanceof Peer, `refused: ${JSON.stringify(r)}`);
  return r;
}

/**
 * A node agent's exec side: its plan stream, read for `event: exec_request`.
 * `open` resolves once the first plan arrived, so the stream's subscription
 * exists before the test connects a client.
 */
export class Agent {
  private buffer = "";
  private readonly requests: Record<string, unknown>[] = [];
  private readonly controller = new AbortController();

  constructor(
    private readonly w: World,
    readonly node: Node,
  ) {}

  async open(): Promise<void> {
    const res = await fetch(`${this.w.t.server.url}/v1/nodes/${this.node.nodeId}/plan/stream`, {
      headers: { authorization: bearer(this.node.credential) },
      signal: this.controller.signal,
    });
    assert.equal(res.status, 200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let sawPlan!: () => void;
    const firstPlan = new Promise<void>((resolve) => {
      sawPlan = resolve;
    });
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          this.buffer += decoder.decode(value, { stream: true });
          let cut = this.buffer.indexOf("\n\n");
          while (cut >= 0) {
            const message = this.buffer.slice(0, cut);
            this.buffer = this.buffer.slice(cut + 2);
            const event = /^event: (.*)$/m.exec(message)?.[1];
            const data = /^data: (.*)$/m.exec(message)?.[1];
            if (event === "plan") sawPlan();
            if (event === "exec_request" && data) this.requests.push(JSON.parse(data));
            cut = this.buffer.indexOf("\n\n");
          }
        }
      } catch {
        // aborted at the end of the test
      }
    })();
    await firstPlan;
  }

  /** The exec_request for `sessionId`, waiting up to `ms`. */
  async request(sessionId: string, ms = 5000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const r = this.requests.find((x) => x.session_id === sessionId);
      if (r) return r;
      if (Date.now() > deadline) throw new Error(`no exec_request for ${sessionId}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  has(sessionId: string): boolean {
    return this.requests.some((x) => x.session_id === sessionId);
  }

  attach(sessionId: string, node: Node = this.node) {
    return dial(wsUrl(this.w, `/v1/nodes/${node.nodeId}/exec-sessions/${sessionId}/attach`), {
      authorization: bearer(this.node.credential),
    });
  }

  close(): void {
    this.controller.abort();
  }
}

/** The session's event types and payloads, in order. */
export async function sessionEvents(w: World, id: string) {
  const { rows } = await w.t.db.pool.query(
    "SELECT event_type, payload FROM events WHERE aggregate_type = 'exec_session' AND aggregate_id = $1 ORDER BY event_id",
    [id],
  );
  return rows as { event_type: string; payload: Record<string, unknown> }[];
}

/** Polls until the session has its ended event (the relay appends it after closing the sockets). */
export async function endedEvent(w: World, id: string, ms = 5000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ended = (await sessionEvents(w, id)).filter((e) => e.event_type === "exec_session.ended");
    if (ended.length > 0) {
      assert.equal(ended.length, 1, "exactly one exec_session.ended");
      return ended[0]?.payload as Record<string, unknown>;
    }
    if (Date.now() > deadline) throw new Error(`session ${id} never ended`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
