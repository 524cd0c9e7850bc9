// Projections: the runner that keeps views caught up with the log, rebuilds,
// operator status, and the read-your-writes wait.
export * from "./batch.ts";
export * from "./projection.ts";
export * from "./rebuild.ts";
export * from "./runner.ts";
export * from "./status.ts";
export * from "./wait.ts";
