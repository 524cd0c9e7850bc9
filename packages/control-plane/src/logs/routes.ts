// The tenant side of workload logs (spec platform.md §4.3, §4.4, §7.7):
// GET E/logs (the last lines of a window, or the polling twin with `after`)
// and GET E/logs/stream (SSE), both under `logs:read`.
import { decodeCursor, encodeCursor, headPosition, sseStart } from "@plfm/kernel";
import type { FastifyInstance } from "fastify";
import { type Static, Type } from "typebox";
import { readEnv } from "../apps/reads.ts";
import { EnvParams, ProcessType } from "../apps/schemas.ts";
import { idSchema } from "../http/ids.ts";
import { addRoute, authorizeRequest, type RouteDeps } from "../http/route.ts";
import { dateToNs, RFC3339_NS_PATTERN } from "./entries.ts";
import { registerLogIngestRoute } from "./ingest.ts";
import { type LogFilter, readTail, scanAfter } from "./read.ts";
import { LogWakeups, serveLogStream } from "./stream.ts";
import { StreamSlots } from "./stream-slots.ts";
import { resolveWindow } from "./window.ts";

const InstanceId = idSchema("inst");
const Time = Type.String({ pattern: RFC3339_NS_PATTERN, maxLength: 64 });
const Cursor = Type.String({ maxLength: 512 });
const Filters = {
  process_type: Type.Optional(ProcessType),
  instance_id: Type.Optional(InstanceId),
};
const LogsQuery = Type.Object(
  {
    ...Filters,
    since: Type.Optional(Time),
    until: Type.Optional(Time),
    tail_lines: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 10_000, default: 200, description: "without after" }),
    ),
    after: Type.Optional(Cursor),
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1000, default: 200, description: "with after" }),
    ),
  },
  { additionalProperties: false },
);
type LogsQuery = Static<typeof LogsQuery>;
const StreamQuery = Type.Object(
  { ...Filters, after: Type.Optional(Cursor) },
  { additionalProperties: false },
);
type StreamQuery = Static<typeof StreamQuery>;
type EnvP = Static<typeof EnvParams>;

const LogItem = Type.Object({
  ts: Type.String({ description: "RFC 3339, UTC, nanoseconds" }),
  instance_id: Type.String(),
  process_type: Type.String(),
  stream: Type.Union([Type.Literal("stdout"), Type.Literal("stderr")]),
  line: Type.String(),
  truncated: Type.Boolean(),
});
const LogPage = Type.Object({ items: Type.Array(LogItem), next_cursor: Type.String() });

/** Rows of the env a polling call looks at, at most: bounded work however sparse the filter. */
const POLL_SCAN_ROWS = 2000;

export function registerLogRoutes(app: FastifyInstance, deps: RouteDeps): void {
  registerLogIngestRoute(app, deps);
  addRoute<unknown, EnvP, LogsQuery>(app, deps, {
    method: "GET",
    url: "/v1/orgs/:org/apps/:app/envs/:env/logs",
    operationId: "logs.list",
    summary:
      "Without after: the last tail_lines lines of a ≤ 1 h window, oldest first. With after: the lines since that cursor (polling twin of the stream)",
    tags: ["logs"],
    scope: "logs:read",
    params: EnvParams,
    querystring: LogsQuery,
    response: { 200: LogPage },
    handler: async ({ params, query, deps }) => {
      await readEnv(deps.pool, params);
      const filter: LogFilter = { processType: query.process_type, instanceId: query.instance_id };
      if (query.after !== undefined && query.after !== "") {
        const after = decodeCursor(query.after);
        // Following a cursor has no default window; a given since/until still filters (and is ≤ 1 h).
        const window =
          query.since !== undefined || query.until !== undefined
            ? resolveWindow(query.since, query.until, dateToNs(deps.now()))
            : {};
        const limit = query.limit ?? 200;
        const scan = await scanAfter(deps.pool, params.env, after, {
          scanLimit: Math.max(limit, POLL_SCAN_ROWS),
          maxItems: limit,
          filter: { ...filter, ...window },
        });
        return {
          status: 200,
          body: { items: scan.items.map((i) => i.item), next_cursor: encodeCursor(scan.next) },
        };
      }
      const window = resolveWindow(query.since, query.until, dateToNs(deps.now()));
      const tail = await readTail(deps.pool, params.env, window, filter, query.tail_lines ?? 200);
      return { status: 200, body: { items: tail.items, next_cursor: encodeCursor(tail.horizon) } };
    },
  });
  registerLogStream(app, deps);
}

function registerLogStream(app: FastifyInstance, deps: RouteDeps): void {
  const slots = new StreamSlots();
  const wakeups = new LogWakeups(deps.kernel.notifier);
  const open = new Set<() => void>();
  // Streams never end on their own: a shutdown ends them first, or closing
  // the HTTP server would wait for its timeout (clients reconnect with their id).
  app.addHook("preClose", async () => {
    for (const stop of open) stop();
    await wakeups.stop();
  });
  app.route({
    method: "GET",
    url: "/v1/orgs/:org/apps/:app/envs/:env/logs/stream",
    schema: {
      operationId: "logs.stream",
      summary: "The env's new log lines as Server-Sent Events (resume with Last-Event-ID or ?after)",
      tags: ["logs"],
      security: [{ bearer: ["logs:read"] }],
      produces: ["text/event-stream"],
      params: EnvParams,
      querystring: StreamQuery,
    },
    // Before validation, as every route: anonymous and foreign callers learn nothing from a 400.
    preValidation: async (request) => {
      await authorizeRequest(deps, request, "logs:read");
    },
    handler: async (request, reply) => {
      const params = request.params as EnvP;
      const query = request.query as StreamQuery;
      // Every refusal happens before the hijack, so it is the usual problem+json.
      await readEnv(deps.pool, params);
      const from = sseStart(request.raw);
      const start = from === "head" ? await headPosition(deps.pool) : from;
      const release = slots.acquire(params.org, request.headers.authorization ?? "");
      try {
        reply.hijack();
        reply.raw.setHeader("x-request-id", request.id);
        await serveLogStream(reply.raw, {
          pool: deps.pool,
          wakeups,
          logger: request.log,
          envId: params.env,
          filter: { processType: query.process_type, instanceId: query.instance_id },
          start,
          onStop: (stop) => {
            open.add(stop);
            return () => open.delete(stop);
          },
        });
      } finally {
        release();
      }
    },
  });
}
