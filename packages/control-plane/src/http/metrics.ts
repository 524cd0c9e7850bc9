import { createKernelMetrics, type KernelMetrics } from "@plfm/kernel";
import client from "prom-client";

/** Every metric the server exposes at `/metrics`, on one registry. */
export interface ServerMetrics {
  registry: client.Registry;
  kernel: KernelMetrics;
  httpRequests: client.Counter<"method" | "path_template" | "status">;
  httpDuration: client.Histogram<"method" | "path_template">;
}

/**
 * A fresh registry with the kernel's metrics, the API's request metrics
 * (spec platform.md §12.1) and prom-client's default process metrics. One per
 * process: default metrics cannot be registered twice on one registry.
 */
export function createServerMetrics(prefix = "plfm"): ServerMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  return {
    registry,
    kernel: createKernelMetrics(registry, prefix),
    httpRequests: new client.Counter({
      name: `${prefix}_http_requests_total`,
      help: "HTTP requests served, by route template and status.",
      labelNames: ["method", "path_template", "status"],
      registers: [registry],
    }),
    httpDuration: new client.Histogram({
      name: `${prefix}_http_request_duration_seconds`,
      help: "Time from request to response, by route template.",
      labelNames: ["method", "path_template"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
}
