import { type EventFilter, readFeed, toWire } from "@plfm/kernel";
import type { FastifyInstance } from "fastify";
import { type Static, Type } from "typebox";
import { addRoute, type RouteDeps } from "../http/route.ts";
import { OrgParams } from "../tenancy/schemas.ts";
import { addStreamRoute } from "./stream-route.ts";

const Cursor = Type.String({ maxLength: 512 });
const FeedQuery = Type.Object(
  {
    after: Type.Optional(Cursor),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    event_type: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    app_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    env_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  { additionalProperties: false },
);
type FeedQuery = Static<typeof FeedQuery>;
// The stream resumes from Last-Event-ID or ?after and sends events as they come: no limit.
const StreamQuery = Type.Omit(FeedQuery, ["limit"], { additionalProperties: false });
type StreamQuery = Static<typeof StreamQuery>;

const Envelope = Type.Object({
  cursor: Type.String(),
  event_id: Type.String(),
  occurred_at: Type.String({ format: "date-time" }),
  aggregate_type: Type.String(),
  aggregate_id: Type.String(),
  aggregate_seq: Type.Integer(),
  event_type: Type.String(),
  event_version: Type.Integer(),
  actor_type: Type.String(),
  actor_id: Type.String(),
  request_id: Type.String(),
  org_id: Type.Union([Type.String(), Type.Null()]),
  app_id: Type.Union([Type.String(), Type.Null()]),
  env_id: Type.Union([Type.String(), Type.Null()]),
  correlation_id: Type.Union([Type.String(), Type.Null()]),
  causation_id: Type.Union([Type.String(), Type.Null()]),
  idempotency_key: Type.Union([Type.String(), Type.Null()]),
  payload: Type.Record(Type.String(), Type.Unknown()),
});
export const FeedPage = Type.Object({ items: Type.Array(Envelope), next_cursor: Type.String() });

/** The query's filters, narrowed to one org when given (node events have none, so never match). */
export function feedFilter(query: StreamQuery, orgId?: string): EventFilter {
  return {
    ...(orgId !== undefined ? { orgId } : {}),
    ...(query.event_type !== undefined ? { eventTypes: [query.event_type] } : {}),
    ...(query.app_id !== undefined ? { appId: query.app_id } : {}),
    ...(query.env_id !== undefined ? { envId: query.env_id } : {}),
  };
}

/**
 * The change feed (spec §4.3, §4.4): a page to poll, whose `next_cursor`
 * advances even when the page is empty, and its SSE twin resuming from
 * `Last-Event-ID`. Members read their org's events; operators read all,
 * node events included.
 */
export function registerEventRoutes(app: FastifyInstance, deps: RouteDeps): void {
  addRoute<unknown, Static<typeof OrgParams>, FeedQuery>(app, deps, {
    method: "GET",
    url: "/v1/orgs/:org/events",
    operationId: "events.org.list",
    summary: "Read a page of the org's events after a cursor",
    tags: ["events"],
    scope: "orgs:read",
    params: OrgParams,
    querystring: FeedQuery,
    response: { 200: FeedPage },
    handler: async ({ params, query, deps }) => ({
      status: 200,
      body: await page(deps, query, params.org),
    }),
  });
  addStreamRoute<Static<typeof OrgParams>, StreamQuery>(app, deps, {
    url: "/v1/orgs/:org/events/stream",
    operationId: "events.org.stream",
    summary: "Stream the org's events as Server-Sent Events",
    tags: ["events"],
    scope: "orgs:read",
    params: OrgParams,
    querystring: StreamQuery,
    filter: (params, query) => feedFilter(query, params.org),
  });
  addRoute<unknown, unknown, FeedQuery>(app, deps, {
    method: "GET",
    url: "/v1/events",
    operationId: "events.list",
    summary: "Read a page of all events, node events included (operators)",
    tags: ["events", "operator"],
    scope: "nodes:admin",
    querystring: FeedQuery,
    response: { 200: FeedPage },
    handler: async ({ query, deps }) => ({ status: 200, body: await page(deps, query) }),
  });
  addStreamRoute<unknown, StreamQuery>(app, deps, {
    url: "/v1/events/stream",
    operationId: "events.stream",
    summary: "Stream all events as Server-Sent Events (operators)",
    tags: ["events", "operator"],
    scope: "nodes:admin",
    querystring: StreamQuery,
    filter: (_params, query) => feedFilter(query),
  });
}

async function page(deps: RouteDeps, query: FeedQuery, orgId?: string) {
  const feed = await readFeed(deps.pool, {
    after: query.after,
    limit: query.limit,
    filter: feedFilter(query, orgId),
  });
  return { items: feed.items.map(toWire), next_cursor: feed.next_cursor };
}
