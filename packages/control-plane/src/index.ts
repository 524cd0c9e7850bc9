// plfm's control plane: the `plfm server` process (HTTP API, database,
// background workers) and, later, one folder per bounded context.
export * from "./auth/bootstrap.ts";
export * from "./config.ts";
export * from "./database.ts";
export * from "./exit-hooks.ts";
export * from "./http/app.ts";
export * from "./http/metrics.ts";
export * from "./http/problem.ts";
export * from "./http/request-id.ts";
export * from "./readiness.ts";
export * from "./run.ts";
export * from "./server.ts";
