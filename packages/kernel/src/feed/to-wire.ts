import { positionOf, type StoredEvent } from "../events.ts";
import { encodeCursor } from "../position.ts";

/** An event envelope as clients see it (spec §3.1, §4.4). */
export interface WireEvent {
  cursor: string;
  event_id: string;
  occurred_at: string;
  aggregate_type: string;
  aggregate_id: string;
  aggregate_seq: number;
  event_type: string;
  event_version: number;
  actor_type: string;
  actor_id: string;
  request_id: string;
  org_id: string | null;
  app_id: string | null;
  env_id: string | null;
  correlation_id: string | null;
  causation_id: string | null;
  idempotency_key: string | null;
  payload: Record<string, unknown>;
}

/**
 * The JSON envelope for HTTP: snake_case keys, bigint ids as strings (JSON
 * numbers lose precision past 2^53), and the opaque `cursor` instead of
 * `tx_id`, which the spec keeps off the wire (§4.4 "without tx_id, with cursor")
 * so clients cannot come to depend on the cursor's encoding.
 */
export function toWire(e: StoredEvent): WireEvent {
  return {
    cursor: encodeCursor(positionOf(e)),
    event_id: e.eventId.toString(),
    occurred_at: e.occurredAt.toISOString(),
    aggregate_type: e.aggregateType,
    aggregate_id: e.aggregateId,
    aggregate_seq: e.aggregateSeq,
    event_type: e.eventType,
    event_version: e.eventVersion,
    actor_type: e.actorType,
    actor_id: e.actorId,
    request_id: e.requestId,
    org_id: e.orgId,
    app_id: e.appId,
    env_id: e.envId,
    correlation_id: e.correlationId,
    causation_id: e.causationId === null ? null : e.causationId.toString(),
    idempotency_key: e.idempotencyKey,
    payload: e.payload,
  };
}
