// The change feed: cursor pages (the polling twin), the per-process hub that
// fans the log's tail out to live subscribers, and the SSE transport.
export * from "./feed-hub.ts";
export * from "./feed-subscription.ts";
export * from "./match-filter.ts";
export * from "./read-feed.ts";
export * from "./sse.ts";
export * from "./to-wire.ts";
