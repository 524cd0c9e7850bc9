// GET /v1/nodes/{node}/plan/stream (spec platform.md §7.2): the current
// NodePlan first, then a complete plan (`event: plan`, id = plan cursor) each
// time it changes, coalesced to at most 4 per second.
import type { ServerResponse } from "node:http";
import { decodeCursor, type Position, type StoredEvent } from "@plfm/kernel";
import type { FastifyInstance } from "fastify";
import type { TSchema } from "typebox";
import type { RouteDeps } from "../http/route.ts";
import { authenticateRequestNode } from "./node-auth.ts";
import { buildPlan, type NodePlan } from "./plan.ts";

/** At most one plan per this many ms (≤ 4/s). */
export const PLAN_MIN_INTERVAL_MS = 250;
const HEARTBEAT_MS = 15_000;
// What a plan is built from today: the node views (peers, own address) and
// the instances view. Volumes and storage jobs join when their contexts exist.
const PLAN_AGGREGATES = ["node", "instance"];
const PLAN_PROJECTIONS = ["nodes", "instances"];

/**
 * Another context's messages on the plan stream (exec's `exec_request`): the
 * stream also follows `aggregateTypes` and writes what `messages` makes of
 * each such event, without an id (ids stay plan cursors). Registered once at
 * module load by the context; fleet imports nothing of it.
 */
export interface PlanStreamSource {
  aggregateTypes: readonly string[];
  messages(deps: RouteDeps, nodeId: string, event: StoredEvent): Promise<{ event: string; data: unknown }[]>;
}
const sources: PlanStreamSource[] = [];
export function addPlanStreamSource(source: PlanStreamSource): void {
  if (!sources.includes(source)) sources.push(source);
}

export function registerPlanStream(app: FastifyInstance, deps: RouteDeps, params: TSchema): void {
  app.route({
    method: "GET",
    url: "/v1/nodes/:node/plan/stream",
    schema: {
      operationId: "nodes.plan.stream",
      summary: "The node's plan as Server-Sent Events",
      tags: ["nodes-agent"],
      security: [{ bearer: [] }],
      produces: ["text/event-stream"],
      params,
    },
    preValidation: async (request) => {
      await authenticateRequestNode(deps.pool, request, deps.now());
    },
    handler: async (request, reply) => {
      const { node } = request.params as { node: string };
      // Built before hijacking: a failure is still an ordinary problem answer.
      const first = await buildPlan(deps.pool, node, deps.now());
      reply.hijack();
      reply.raw.setHeader("x-request-id", request.id);
      await streamPlans(deps, reply.raw, node, first);
    },
  });
}

/**
 * Stream states: open (plans written as they change; a `:heartbeat` comment
 * every 15 s) → closed, when the client goes away, the hub stops (the
 * client reconnects and refetches), or the node is revoked (its credential
 * is dead, so the stream ends with it). A change arriving within 250 ms of
 * the last plan arms one timer; every change up to then shares that plan.
 */
async function streamPlans(
  deps: RouteDeps,
  res: ServerResponse,
  nodeId: string,
  first: NodePlan,
): Promise<void> {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
  });
  const write = (plan: NodePlan) => {
    if (!res.writableEnded) res.write(`id: ${plan.cursor}\nevent: plan\ndata: ${JSON.stringify(plan)}\n\n`);
  };
  write(first);
  const sub = deps.kernel.hub.subscribe({
    after: decodeCursor(first.cursor),
    filter: { aggregateTypes: [...PLAN_AGGREGATES, ...sources.flatMap((s) => s.aggregateTypes)] },
  });
  let lastPlanId = first.plan_id;
  let lastSentAt = Date.now();
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  // The feed can deliver an event before the projections have applied it.
  let seen: Position = decodeCursor(first.cursor);
  const close = () => {
    closed = true;
    void sub.close();
  };
  const flush = async () => {
    timer = null;
    lastSentAt = Date.now();
    await deps.kernel.watcher.waitFor(seen, PLAN_PROJECTIONS, { timeoutMs: deps.projectionWaitTimeoutMs });
    const plan = await buildPlan(deps.pool, nodeId, deps.now());
    if (closed || plan.plan_id === lastPlanId) return;
    lastPlanId = plan.plan_id;
    write(plan);
  };
  const schedule = () => {
    if (timer || closed) return;
    const wait = Math.max(0, lastSentAt + PLAN_MIN_INTERVAL_MS - Date.now());
    timer = setTimeout(() => void flush().catch(close), wait);
  };
  const heartbeat = setInterval(() => {
    if (!res.writableEnded) res.write(":heartbeat\n\n");
  }, HEARTBEAT_MS);
  res.on("close", close);
  if (res.destroyed) close();
  try {
    for await (const msg of sub) {
      if (msg.type !== "event") continue;
      if (msg.event.eventType === "node.revoked" && msg.event.aggregateId === nodeId) break;
      const source = sources.find((s) => s.aggregateTypes.includes(msg.event.aggregateType));
      if (source) {
        // A failed read loses one message, not the stream (an unanswered exec request times out).
        const extra = await source.messages(deps, nodeId, msg.event).catch(() => []);
        for (const m of extra) {
          if (!res.writableEnded) res.write(`event: ${m.event}\ndata: ${JSON.stringify(m.data)}\n\n`);
        }
        continue;
      }
      seen = msg.position;
      schedule();
    }
  } finally {
    closed = true;
    clearInterval(heartbeat);
    if (timer) clearTimeout(timer);
    res.off("close", close);
    await sub.close();
    if (!res.writableEnded) res.end();
  }
}
