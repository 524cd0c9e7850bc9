// The kernel's public API: an append-only event log with idempotent commands,
// projections, read-your-writes waits, a change feed and leader leases. It
// knows nothing of plfm or Delta CI.
export * from "./append.ts";
export * from "./clock.ts";
export * from "./command.ts";
export * from "./db/embedded.ts";
export * from "./db/migrate.ts";
export * from "./db/pool.ts";
export * from "./errors.ts";
export * from "./events.ts";
export * from "./feed/index.ts";
export * from "./idempotency.ts";
export * from "./ids.ts";
export * from "./lease.ts";
export * from "./logger.ts";
export * from "./metrics.ts";
export * from "./notifier.ts";
export * from "./position.ts";
export * from "./projections/index.ts";
export * from "./read.ts";
export * from "./runtime.ts";
export * from "./wake.ts";
