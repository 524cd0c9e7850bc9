// Node commands' I/O (spec platform.md §7.1, §7.2, §4.4 /nodes): load the
// node aggregate, decide (pure, node.ts), append; plus the credential and
// heartbeat tables, written in the same transaction as the events.
import {
  handleCommand,
  type IdempotencyRequest,
  KernelError,
  type Pool,
  type Position,
  wakeReaders,
  withTransaction,
} from "@plfm/kernel";
import { hashToken, newToken } from "../auth/tokens.ts";
import { type AuditLogger, recordAudit } from "../tenancy/audit.ts";
import {
  decideHeartbeat,
  decideRevoke,
  decideRotateCredential,
  decideRotateWireguardKey,
  decideSetState,
  type NodeState,
  nodeAggregate,
  type OperatorState,
} from "./node.ts";

/** How long a rotated-away credential keeps working (§7.1). */
export const CREDENTIAL_GRACE_MS = 10 * 60 * 1000;
export const HEARTBEAT_INTERVAL_SECONDS = 10;

export interface Actor {
  actorType: string;
  actorId: string;
  requestId: string;
}

export interface HeartbeatReport {
  agent_version?: string | undefined;
  degraded_reason?: string | undefined;
  [k: string]: unknown;
}

/** Records the heartbeat (not an event) and moves the state when it must. */
export async function recordHeartbeat(
  pool: Pool,
  nodeId: string,
  report: HeartbeatReport,
  now: Date,
  requestId: string,
): Promise<{ next_heartbeat_seconds: number; node_state: NodeState; position: Position | null }> {
  const r = await withTransaction(pool, async (client) => {
    await client.query(
      `INSERT INTO node_heartbeats (node_id, last_heartbeat_at, agent_version, report)
       VALUES ($1, $2, $3, $4)
       ON CONFLICT (node_id) DO UPDATE SET last_heartbeat_at = excluded.last_heartbeat_at,
              agent_version = excluded.agent_version, report = excluded.report`,
      [nodeId, now, report.agent_version ?? null, JSON.stringify(report)],
    );
    return handleCommand(client, {
      aggregate: nodeAggregate,
      aggregateId: nodeId,
      meta: { actorType: "node", actorId: nodeId, requestId },
      clock: { now: () => now },
      maxAttempts: 1,
      decide: (state) => {
        const events = decideHeartbeat(state, nodeId, report, now);
        const last = events[events.length - 1];
        return { events, response: (last?.payload.state as NodeState | undefined) ?? state.state };
      },
    });
  });
  wakeReaders(pool);
  return { next_heartbeat_seconds: HEARTBEAT_INTERVAL_SECONDS, node_state: r.response, position: r.position };
}

/** A new credential; the old ones keep working for CREDENTIAL_GRACE_MS. */
export async function rotateCredential(
  pool: Pool,
  nodeId: string,
  now: Date,
  requestId: string,
  log: AuditLogger,
): Promise<{ node_id: string; node_credential: string; previous_expires_at: string }> {
  const credential = newToken("node");
  const graceEnd = new Date(now.getTime() + CREDENTIAL_GRACE_MS);
  await withTransaction(pool, async (client) => {
    await handleCommand(client, {
      aggregate: nodeAggregate,
      aggregateId: nodeId,
      meta: { actorType: "node", actorId: nodeId, requestId },
      clock: { now: () => now },
      maxAttempts: 1,
      decide: (state) => ({ events: decideRotateCredential(state, nodeId, now), response: null }),
    });
    await client.query(
      `UPDATE node_credentials SET expires_at = least(coalesce(expires_at, $3), $3)
        WHERE node_id = $1 AND revoked_at IS NULL AND credential_hash <> $2`,
      [nodeId, hashToken(credential), graceEnd],
    );
    await client.query(
      "INSERT INTO node_credentials (credential_hash, node_id, created_at) VALUES ($1, $2, $3)",
      [hashToken(credential), nodeId, now],
    );
    await recordAudit(
      client,
      {
        org_id: null,
        actor_type: "node",
        actor_id: nodeId,
        action: "node.credential_rotated",
        target_type: "node",
        target_id: nodeId,
        request_id: requestId,
      },
      log,
    );
  });
  wakeReaders(pool);
  return { node_id: nodeId, node_credential: credential, previous_expires_at: graceEnd.toISOString() };
}

/**
 * The agent's new WireGuard public key (§4.4 `POST …/wireguard-key`, §8.2):
 * claimed in the same transaction as node.wireguard_key_rotated, the old key
 * freed. A key another node holds → 409 wireguard_key_in_use, nothing written.
 */
export async function rotateWireguardKey(
  pool: Pool,
  nodeId: string,
  key: string,
  now: Date,
  requestId: string,
  log: AuditLogger,
): Promise<{ key_generation: number; position: Position | null }> {
  const r = await withTransaction(pool, async (client) => {
    // Two rotations of one node race on the node's next sequence (version_conflict for the loser).
    const { rows: held } = await client.query<{ node_id: string }>(
      "SELECT node_id FROM node_wireguard_keys WHERE public_key = $1",
      [key],
    );
    if (held[0] && held[0].node_id !== nodeId) {
      throw new KernelError("wireguard_key_in_use", "Another node already uses this WireGuard public key.");
    }
    const current = held[0] ? key : null;
    const r = await handleCommand(client, {
      aggregate: nodeAggregate,
      aggregateId: nodeId,
      meta: { actorType: "node", actorId: nodeId, requestId },
      clock: { now: () => now },
      maxAttempts: 1,
      decide: (state) => {
        const events = decideRotateWireguardKey(state, nodeId, current, key, now);
        return { events, response: Number(events[0]?.payload.key_generation ?? state.keyGeneration) };
      },
    });
    if (!r.replayed && r.events.length > 0) {
      const claimed = await client.query(
        `INSERT INTO node_wireguard_keys (public_key, node_id, claimed_at) VALUES ($1, $2, $3)
         ON CONFLICT (public_key) DO NOTHING`,
        [key, nodeId, now],
      );
      // Claimed by another node between our read and now: the event rolls back with it.
      if (claimed.rowCount === 0) {
        throw new KernelError("wireguard_key_in_use", "Another node already uses this WireGuard public key.");
      }
      await client.query("DELETE FROM node_wireguard_keys WHERE node_id = $1 AND public_key <> $2", [
        nodeId,
        key,
      ]);
      await recordAudit(
        client,
        {
          org_id: null,
          actor_type: "node",
          actor_id: nodeId,
          action: "node.wireguard_key_rotated",
          target_type: "node",
          target_id: nodeId,
          request_id: requestId,
          details: { key_generation: r.response },
        },
        log,
      );
    }
    return r;
  });
  wakeReaders(pool, ["node.wireguard_key_rotated"]);
  return { key_generation: r.response, position: r.position };
}

export interface OperatorCommand {
  pool: Pool;
  actor: Actor;
  idempotency: IdempotencyRequest | null;
  now: Date;
  log: AuditLogger;
}

/** PATCH /v1/nodes/{node}: the operator sets active, draining or disabled. */
export async function setNodeState(
  cmd: OperatorCommand,
  nodeId: string,
  body: { state: OperatorState; reason?: string | undefined; expected_version?: number | undefined },
): Promise<{ position: Position | null; replayed: boolean }> {
  const r = await handleCommand(cmd.pool, {
    aggregate: nodeAggregate,
    aggregateId: nodeId,
    meta: cmd.actor,
    clock: { now: () => cmd.now },
    ...(cmd.idempotency ? { idempotency: cmd.idempotency } : {}),
    decide: (state, version) => ({
      events: decideSetState(state, version, nodeId, body, cmd.now),
      response: null,
    }),
  });
  return { position: r.position, replayed: r.replayed };
}

/**
 * DELETE /v1/nodes/{node}: node.revoked, every credential dead and the
 * WireGuard key freed, in one transaction. The overlay address stays taken.
 */
export async function revokeNode(
  cmd: OperatorCommand,
  nodeId: string,
  reason: string | undefined,
): Promise<{ position: Position | null; replayed: boolean }> {
  const r = await withTransaction(cmd.pool, async (client) => {
    const r = await handleCommand(client, {
      aggregate: nodeAggregate,
      aggregateId: nodeId,
      meta: cmd.actor,
      clock: { now: () => cmd.now },
      maxAttempts: 1,
      ...(cmd.idempotency ? { idempotency: cmd.idempotency } : {}),
      decide: (state) => ({ events: decideRevoke(state, nodeId, reason, cmd.now), response: null }),
    });
    if (!r.replayed) {
      await client.query(
        "UPDATE node_credentials SET revoked_at = $2 WHERE node_id = $1 AND revoked_at IS NULL",
        [nodeId, cmd.now],
      );
      await client.query("DELETE FROM node_wireguard_keys WHERE node_id = $1", [nodeId]);
      // A revoked node is not "silent" (operator/stuck.ts reads this table).
      await client.query("DELETE FROM node_heartbeats WHERE node_id = $1", [nodeId]);
      await recordAudit(
        client,
        {
          org_id: null,
          actor_type: cmd.actor.actorType,
          actor_id: cmd.actor.actorId,
          action: "node.revoked",
          target_type: "node",
          target_id: nodeId,
          request_id: cmd.actor.requestId,
        },
        cmd.log,
      );
    }
    return r;
  });
  wakeReaders(cmd.pool);
  return { position: r.position, replayed: r.replayed };
}
