import type { Position } from "./position.ts";

/** Plain JSON object payload; never secret values, keys, tokens or ciphertext. */
export type Payload = Record<string, unknown>;

/** An event as a command produces it, before it has a place in the log. */
export interface NewEvent<T extends string = string, P extends Payload = Payload> {
  aggregateType: string;
  aggregateId: string;
  /** Lower dot case, e.g. `app.created`. */
  eventType: T;
  /** Defaults to 1; payload changes bump it. */
  eventVersion?: number;
  payload: P;
  orgId?: string | null;
  appId?: string | null;
  envId?: string | null;
  correlationId?: string | null;
  causationId?: bigint | null;
}

/** An event as stored: the spec's envelope. */
export interface StoredEvent<T extends string = string, P extends Payload = Payload> {
  eventId: bigint;
  txId: bigint;
  occurredAt: Date;
  aggregateType: string;
  aggregateId: string;
  aggregateSeq: number;
  eventType: T;
  eventVersion: number;
  actorType: string;
  actorId: string;
  requestId: string;
  orgId: string | null;
  appId: string | null;
  envId: string | null;
  correlationId: string | null;
  causationId: bigint | null;
  idempotencyKey: string | null;
  payload: P;
}

/** Who asked, and under which request: shared by every event of one command. */
export interface CommandMeta {
  actorType: string;
  actorId: string;
  requestId: string;
}

export function positionOf(e: Pick<StoredEvent, "txId" | "eventId">): Position {
  return { txId: e.txId, eventId: e.eventId };
}

/** Row shape returned by `SELECT * FROM events`. */
export interface EventRow {
  event_id: string;
  tx_id: string;
  occurred_at: Date;
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
  payload: Payload;
}

export function eventFromRow(r: EventRow): StoredEvent {
  return {
    eventId: BigInt(r.event_id),
    txId: BigInt(r.tx_id),
    occurredAt: r.occurred_at,
    aggregateType: r.aggregate_type,
    aggregateId: r.aggregate_id,
    aggregateSeq: r.aggregate_seq,
    eventType: r.event_type,
    eventVersion: r.event_version,
    actorType: r.actor_type,
    actorId: r.actor_id,
    requestId: r.request_id,
    orgId: r.org_id,
    appId: r.app_id,
    envId: r.env_id,
    correlationId: r.correlation_id,
    causationId: r.causation_id === null ? null : BigInt(r.causation_id),
    idempotencyKey: r.idempotency_key,
    payload: r.payload,
  };
}

export const EVENT_COLUMNS = `event_id, tx_id, occurred_at, aggregate_type, aggregate_id, aggregate_seq, event_type,
  event_version, actor_type, actor_id, request_id, org_id, app_id, env_id, correlation_id, causation_id,
  idempotency_key, payload`;
