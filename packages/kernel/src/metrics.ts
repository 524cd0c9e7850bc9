import client from "prom-client";

/** The kernel's metrics, registered on the given registry. */
export interface KernelMetrics {
  registry: client.Registry;
  eventsAppended: client.Counter<"aggregate_type">;
  appendDuration: client.Histogram<"outcome">;
  projectionLagEvents: client.Gauge<"projection">;
  projectionLagSeconds: client.Gauge<"projection">;
  projectionApplied: client.Counter<"projection">;
}

/** `prefix` keeps product names apart: `plfm` or `delta`. */
export function createKernelMetrics(registry = new client.Registry(), prefix = "plfm"): KernelMetrics {
  return {
    registry,
    eventsAppended: new client.Counter({
      name: `${prefix}_events_appended_total`,
      help: "Events appended to the log.",
      labelNames: ["aggregate_type"],
      registers: [registry],
    }),
    appendDuration: new client.Histogram({
      name: `${prefix}_append_duration_seconds`,
      help: "Time to append one command's events, by outcome.",
      labelNames: ["outcome"],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    projectionLagEvents: new client.Gauge({
      name: `${prefix}_projection_lag_events`,
      help: "Events committed but not yet applied by a projection (estimate).",
      labelNames: ["projection"],
      registers: [registry],
    }),
    projectionLagSeconds: new client.Gauge({
      name: `${prefix}_projection_lag_seconds`,
      help: "Age of the oldest event a projection has not applied yet (0 when caught up).",
      labelNames: ["projection"],
      registers: [registry],
    }),
    projectionApplied: new client.Counter({
      name: `${prefix}_projection_events_applied_total`,
      help: "Events applied by a projection.",
      labelNames: ["projection"],
      registers: [registry],
    }),
  };
}
