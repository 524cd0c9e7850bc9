// Test support: a simulated node agent that speaks the real agent protocol
// over HTTP (spec platform.md §7.1–§7.3) and nothing else: it enrolls with a
// token the operator issues, heartbeats, follows its plan stream and reports
// each instance through preparing → booting → ready (or failed), and
// draining → stopped. No VM runs; boots and drains are timers. Used by the
// scheduler's integration tests and the e2e benchmark. Not used in production.
import { randomBytes } from "node:crypto";
import { get as httpGet, type IncomingMessage } from "node:http";
import { newId } from "@plfm/kernel";
import type { INSTANCE_REASON_CODES, InstanceStatus } from "../apps/index.ts";
import type { WorkloadSpec } from "../scheduler/reconcile/index.ts";
import type { NodePlan } from "./plan.ts";
import type { PlanInstance } from "./plan-instances.ts";

type InstanceReasonCode = (typeof INSTANCE_REASON_CODES)[number];

export interface SimNodeOptions {
  /** `Authorization` value of an operator (nodes:admin), used once to issue the enrollment token. */
  operatorAuth: string;
  hostname?: string;
  cpu_cores?: number;
  memory_bytes?: number;
  arch?: "amd64" | "arm64";
  /** Default 1000. */
  heartbeatMs?: number;
  /** From booting to ready (or failed). Default 50. */
  bootMs?: number;
  /** From draining to stopped. Default 50. */
  drainMs?: number;
  /** A reason code makes the boot end `failed` with it instead of `ready`. */
  fail?: (workload: WorkloadSpec) => InstanceReasonCode | null;
}

export interface SimNode {
  nodeId: string;
  credential: string;
  /** The last status the node reported (or is about to) per instance it knows. */
  statuses(): Map<string, InstanceStatus>;
  /** The latest failure of any request (heartbeat, stream, report), kept until the next one. */
  readonly lastError: Error | null;
  /** How many plans (stream or refetch) the node has applied. */
  readonly plansSeen: number;
  /** Stops heartbeating; resolves once a heartbeat already in flight has settled. */
  stopHeartbeats(): Promise<void>;
  /** Heartbeats again, the first one at once. */
  resumeHeartbeats(): void;
  close(): Promise<void>;
}

interface Local {
  status: InstanceStatus;
  bootId: string;
  timer: NodeJS.Timeout | null;
  /** Reports of one instance go out one at a time, in order. */
  chain: Promise<void>;
}

const RECONNECT_MS = 100;

/** Enrolls a node against `baseUrl` and runs it until close(). The first heartbeat has happened on return. */
export async function startSimNode(baseUrl: string, options: SimNodeOptions): Promise<SimNode> {
  const o = { heartbeatMs: 1000, bootMs: 50, drainMs: 50, arch: "amd64" as const, ...options };
  const token = await request(baseUrl, "POST", "/v1/nodes/enrollment-tokens", o.operatorAuth, {});
  const cpu = o.cpu_cores ?? 4;
  const memory = o.memory_bytes ?? 8 * 2 ** 30;
  const enrolled = await request(baseUrl, "POST", "/v1/nodes/enroll", undefined, {
    enrollment_token: token.enrollment_token,
    hostname: o.hostname ?? `sim-${randomBytes(4).toString("hex")}`,
    agent_version: "0.1.0-sim",
    supported_api_versions: ["v1"],
    roles: ["worker"],
    public_ipv6: "2001:db8::10",
    wireguard_public_key: randomBytes(32).toString("base64"),
    labels: { arch: o.arch },
    capacity: { cpu_cores: cpu, memory_bytes: memory, disk_bytes: 100 * 2 ** 30 },
  });
  const nodeId = String(enrolled.node_id);
  const credential = String(enrolled.node_credential);
  const auth = `Bearer ${credential}`;
  const nodePath = `/v1/nodes/${nodeId}`;

  const locals = new Map<string, Local>();
  const pending = new Set<Promise<void>>();
  let lastError: Error | null = null;
  let plansSeen = 0;
  let closed = false;
  let heartbeatTimer: NodeJS.Timeout | null = null;
  let lastReportAt = 0;
  const abort = new AbortController();
  const noteError = (err: unknown) => {
    if (!closed) lastError = err instanceof Error ? err : new Error(String(err));
  };

  const heartbeat = () =>
    request(baseUrl, "POST", `${nodePath}/heartbeat`, auth, {
      agent_version: "0.1.0-sim",
      available_cpu_cores: cpu,
      available_memory_bytes: memory,
      instance_count: locals.size,
      disk_pressure: false,
      instance_statuses: [...locals].map(([instance_id, l]) => ({
        instance_id,
        status: l.status,
        boot_id: l.bootId,
      })),
    });
  // One heartbeat at a time, the next heartbeatMs after the last settled, so a stop has one to wait for.
  let heartbeating = false;
  let busy = false;
  let inflight: Promise<void> = Promise.resolve();
  const beat = () => {
    heartbeatTimer = null;
    if (closed || !heartbeating) return;
    busy = true;
    inflight = heartbeat().then(() => undefined, noteError);
    void inflight.then(() => {
      busy = false;
      if (heartbeating && !closed && !heartbeatTimer) heartbeatTimer = setTimeout(beat, o.heartbeatMs);
    });
  };

  /** Sets the local status at once and queues its report behind the instance's earlier ones. */
  const report = (id: string, local: Local, status: InstanceStatus, reason?: InstanceReasonCode) => {
    local.status = status;
    // Strictly later than the previous report: the server ignores reports older than the last one.
    lastReportAt = Math.max(Date.now(), lastReportAt + 1);
    const body = {
      status,
      boot_id: local.bootId,
      reported_at: new Date(lastReportAt).toISOString(),
      ...(reason ? { reason_code: reason } : {}),
    };
    const chain = local.chain
      .then(() => request(baseUrl, "POST", `${nodePath}/instances/${id}/status`, auth, body))
      .then(() => undefined, noteError);
    local.chain = chain;
    // Kept until settled even if the instance is forgotten meanwhile, so close() can wait for it.
    pending.add(chain);
    void chain.then(() => pending.delete(chain));
  };
  const track = (id: string): Local => {
    const local: Local = {
      status: "allocated",
      bootId: newId("boot"),
      timer: null,
      chain: Promise.resolve(),
    };
    locals.set(id, local);
    return local;
  };
  const later = (local: Local, ms: number, fn: () => void) => {
    if (local.timer) clearTimeout(local.timer);
    local.timer = setTimeout(() => {
      local.timer = null;
      if (!closed) fn();
    }, ms);
  };

  const startInstance = (entry: PlanInstance & { workload: WorkloadSpec }) => {
    const local = track(entry.instance_id);
    report(entry.instance_id, local, "preparing");
    report(entry.instance_id, local, "booting");
    later(local, o.bootMs, () => {
      const reason = o.fail?.(entry.workload) ?? null;
      if (reason) report(entry.instance_id, local, "failed", reason);
      else report(entry.instance_id, local, "ready");
    });
  };
  const drainInstance = (id: string, local: Local) => {
    report(id, local, "draining");
    later(local, o.drainMs, () => report(id, local, "stopped"));
  };

  /** Latest plan wins (§7.2): it alone says what the node runs. */
  const applyPlan = (plan: NodePlan) => {
    if (closed) return;
    plansSeen += 1;
    const present = new Set<string>();
    for (const entry of plan.instances) {
      present.add(entry.instance_id);
      const local = locals.get(entry.instance_id);
      if (entry.desired_state === "running") {
        // Without a workload the control plane could not describe it yet: wait for a plan that does.
        if (!local && entry.workload) startInstance({ ...entry, workload: entry.workload });
      } else if (entry.desired_state === "draining") {
        if (!local) {
          drainInstance(entry.instance_id, track(entry.instance_id));
        } else if (!["draining", "stopped", "failed"].includes(local.status)) {
          drainInstance(entry.instance_id, local);
        }
      }
    }
    for (const [id, local] of locals) {
      if (present.has(id)) continue;
      if (local.timer) clearTimeout(local.timer);
      locals.delete(id);
    }
  };

  /** Follows the plan stream until close(); on a drop, refetches the plan and reconnects. */
  const follow = async () => {
    while (!closed) {
      try {
        const res = await openStream(`${baseUrl}${nodePath}/plan/stream`, auth, abort.signal);
        for await (const msg of sseMessages(res)) {
          if (msg.event === "plan") applyPlan(JSON.parse(msg.data) as NodePlan);
        }
      } catch (err) {
        noteError(err);
      }
      if (closed) return;
      await sleep(RECONNECT_MS);
      if (closed) return;
      // The stream's first message is the current plan too, but a refetch keeps the node
      // converging while the stream cannot be opened.
      await request(baseUrl, "GET", `${nodePath}/plan`, auth)
        .then((plan) => applyPlan(plan as unknown as NodePlan))
        .catch(noteError);
    }
  };

  await heartbeat();
  heartbeating = true;
  heartbeatTimer = setTimeout(beat, o.heartbeatMs);
  const following = follow();

  return {
    nodeId,
    credential,
    statuses: () => new Map([...locals].map(([id, l]) => [id, l.status])),
    get lastError() {
      return lastError;
    },
    get plansSeen() {
      return plansSeen;
    },
    async stopHeartbeats() {
      heartbeating = false;
      if (heartbeatTimer) clearTimeout(heartbeatTimer);
      heartbeatTimer = null;
      await inflight;
    },
    resumeHeartbeats() {
      if (closed || heartbeating) return;
      heartbeating = true;
      // A beat still in flight from before the stop reschedules itself; otherwise start one now.
      if (!heartbeatTimer && !busy) beat();
    },
    async close() {
      closed = true;
      heartbeating = false;
      if (heartbeatTimer) clearTimeout(heartbeatTimer);
      heartbeatTimer = null;
      abort.abort();
      for (const l of locals.values()) if (l.timer) clearTimeout(l.timer);
      await following;
      await inflight;
      await Promise.all(pending);
    },
  };
}

/**
 * GET an SSE stream over node:http on a connection of its own, not fetch: aborting several fetch
 * streams at once left connections open with no request on them, which held the server's close
 * for its full 10 s timeout. Rejects on a non-200 answer.
 */
function openStream(url: string, auth: string, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, {
      headers: { authorization: auth, accept: "text/event-stream" },
      agent: false,
      signal,
    });
    req.on("error", reject);
    req.on("response", (res) => {
      if (res.statusCode === 200) return resolve(res);
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        text += c;
      });
      res.on("end", () => reject(new Error(`GET plan/stream: HTTP ${res.statusCode} ${text.slice(0, 300)}`)));
      res.on("error", reject);
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function httpError(res: Response, what: string): Promise<Error> {
  const text = await res.text().catch(() => "");
  return new Error(`${what}: HTTP ${res.status} ${text.slice(0, 300)}`);
}

/** A JSON request; a non-2xx answer is an Error carrying the status and the problem's text. */
async function request(
  baseUrl: string,
  method: string,
  path: string,
  auth: string | undefined,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = {};
  if (auth) headers.authorization = auth;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status < 200 || res.status > 299) throw await httpError(res, `${method} ${path}`);
  const text = await res.text();
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/** The messages of an SSE body (comments skipped); ends when the body does. */
export async function* sseMessages(
  body: AsyncIterable<Uint8Array>,
): AsyncGenerator<{ id: string; event: string; data: string }> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const msg = { id: "", event: "message", data: [] as string[] };
      for (const line of block.split("\n")) {
        if (line === "" || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "id") msg.id = value;
        else if (field === "event") msg.event = value;
        else if (field === "data") msg.data.push(value);
      }
      if (msg.data.length > 0) yield { id: msg.id, event: msg.event, data: msg.data.join("\n") };
    }
  }
}
