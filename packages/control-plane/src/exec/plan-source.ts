// exec_request on the node plan stream (spec platform.md §7.2, §7.8). The
// trigger is the exec_session.connected event itself, read from the shared
// log by every replica's feed hub: the replica serving a node's plan stream
// need not be the one that took the client's socket, and nothing in memory
// has to cross replicas. The event names its node, so other nodes' streams
// skip it without a query.
import { loadAggregate, type StoredEvent } from "@plfm/kernel";
import type { PlanStreamSource } from "../fleet/plan-stream.ts";
import { EXEC_SESSION, execSessionAggregate } from "./exec-session.ts";

export const execPlanSource: PlanStreamSource = {
  aggregateTypes: [EXEC_SESSION],
  async messages(deps, nodeId, e: StoredEvent) {
    if (e.eventType !== "exec_session.connected" || e.payload.node_id !== nodeId) return [];
    const { state } = await loadAggregate(deps.pool, execSessionAggregate, e.aggregateId);
    // Already over (a stream catching up late): an agent dialling in would only be refused.
    if (state.status !== "connected") return [];
    return [
      {
        event: "exec_request",
        data: {
          session_id: e.aggregateId,
          instance_id: state.instanceId,
          command: state.command,
          tty: state.tty,
        },
      },
    ];
  },
};
