// Writing one group's decision (spec platform.md §6.3): drains, stops,
// allocations with their /128, the scheduling block, and scheduler_status,
// all in the caller's transaction. Instance changes are ordinary commands on
// their aggregate, so a concurrent writer makes the transaction fail (and the
// next pass decide again) rather than write over it.
import {
  append,
  type CommandMeta,
  comparePositions,
  handleCommand,
  type NewEvent,
  newId,
  type PoolClient,
  type Position,
  type Queryable,
} from "@plfm/kernel";
import { type InstanceState, instanceAggregate } from "../apps/index.ts";
import type { GroupRef } from "./facts.ts";
import { describeRejection } from "./placement/eligibility.ts";
import { IPAM_COOLDOWN_MS } from "./placement/ipam.ts";
import type { Blocked, Placement } from "./placement/types.ts";
import type { Block, Drain } from "./reconcile/rollout-types.ts";

export const SCHEDULER_META = (requestId: string): CommandMeta => ({
  actorType: "system",
  actorId: "scheduler",
  requestId,
});

/** The latest position written, across several commands. */
export class Positions {
  last: Position | null = null;
  add(p: Position | null): void {
    if (p && (!this.last || comparePositions(p, this.last) > 0)) this.last = p;
  }
}

const instanceEvent = (
  s: InstanceState,
  instanceId: string,
  eventType: string,
  payload: Record<string, unknown>,
): NewEvent => ({
  aggregateType: "instance",
  aggregateId: instanceId,
  eventType,
  orgId: s.orgId,
  appId: s.appId,
  envId: s.envId,
  payload: { instance_id: instanceId, org_id: s.orgId, env_id: s.envId, ...payload },
});

/** desired_state → draining with the §3.4 reason; an instance already leaving is left alone. */
export async function drainInstance(
  client: PoolClient,
  meta: CommandMeta,
  d: { instance_id: string; reason: Drain["reason"] | "env_deleted" },
  out: Positions,
) {
  const r = await handleCommand(client, {
    aggregate: instanceAggregate,
    aggregateId: d.instance_id,
    meta,
    maxAttempts: 1,
    decide: (s) => ({
      events:
        s.exists && s.desiredState === "running"
          ? [
              instanceEvent(s, d.instance_id, "instance.desired_state_changed", {
                desired_state: "draining",
                drain_grace_seconds: 10,
                reason: d.reason,
              }),
            ]
          : [],
      response: null,
    }),
  });
  out.add(r.position);
}

/** desired_state → stopped (the node reported it, or the drain was forced), and its /128 released. */
export async function stopInstance(
  client: PoolClient,
  meta: CommandMeta,
  instanceId: string,
  now: Date,
  out: Positions,
) {
  const r = await handleCommand(client, {
    aggregate: instanceAggregate,
    aggregateId: instanceId,
    meta,
    maxAttempts: 1,
    decide: (s) => ({
      events:
        s.exists && s.desiredState !== "stopped"
          ? [instanceEvent(s, instanceId, "instance.desired_state_changed", { desired_state: "stopped" })]
          : [],
      response: null,
    }),
  });
  out.add(r.position);
  await client.query(
    "UPDATE instance_addresses SET released_at = $2 WHERE instance_id = $1 AND released_at IS NULL",
    [instanceId, now],
  );
}

export interface NewInstance {
  g: GroupRef;
  placement: Placement;
  release_id: string;
  deploy_id: string | null;
  secrets_version_id: string | null;
  resources: { cpu_request: number; memory_limit_bytes: number; ephemeral_disk_bytes: number };
  spec_hash: string;
}

/**
 * Claims the placements' /128s and appends their instance.allocated events,
 * in two statements however many there are (a scale to 100 is one pass, not
 * 300 round trips). An address taken meanwhile (reusable only 24 h after its
 * release) drops that placement; the next pass reads IPAM afresh. Returns
 * the new instances in placement order.
 */
export async function allocateInstances(
  client: PoolClient,
  meta: CommandMeta,
  list: readonly NewInstance[],
  now: Date,
  out: Positions,
): Promise<{ instance_id: string; n: NewInstance }[]> {
  if (list.length === 0) return [];
  const ids = list.map(() => newId("inst"));
  const { rows } = await client.query<{ overlay_ipv6: string }>(
    `INSERT INTO instance_addresses (overlay_ipv6, instance_id, allocated_at)
     SELECT a, i, $3 FROM unnest($1::text[], $2::text[]) AS x(a, i)
     ON CONFLICT (overlay_ipv6) DO UPDATE
        SET instance_id = excluded.instance_id, allocated_at = excluded.allocated_at, released_at = NULL
      WHERE instance_addresses.released_at IS NOT NULL AND instance_addresses.released_at <= $4
     RETURNING overlay_ipv6`,
    [list.map((n) => n.placement.overlay_ipv6), ids, now, new Date(now.getTime() - IPAM_COOLDOWN_MS)],
  );
  const claimed = new Set(rows.map((r) => r.overlay_ipv6));
  const made = list
    .map((n, i) => ({ instance_id: ids[i] as string, n }))
    .filter((x) => claimed.has(x.n.placement.overlay_ipv6));
  if (made.length === 0) return [];
  const r = await append(client, {
    meta,
    events: made.map(({ instance_id, n }) => allocatedEvent(instance_id, n)),
    // Fresh ids: each aggregate must not exist yet.
    expected: made.map(({ instance_id }) => ({
      aggregateType: "instance",
      aggregateId: instance_id,
      seq: 0,
    })),
    clock: { now: () => now },
  });
  if (!r.replayed) out.add(r.position);
  return made;
}

function allocatedEvent(instanceId: string, n: NewInstance): NewEvent {
  const payload: Record<string, unknown> = {
    instance_id: instanceId,
    org_id: n.g.org_id,
    app_id: n.g.app_id,
    env_id: n.g.env_id,
    process_type: n.g.process_type,
    node_id: n.placement.node_id,
    desired_state: "running",
    release_id: n.release_id,
    overlay_ipv6: n.placement.overlay_ipv6,
    resources_snapshot: n.resources,
    spec_hash: n.spec_hash,
  };
  if (n.deploy_id) payload.deploy_id = n.deploy_id;
  if (n.secrets_version_id) payload.secrets_version_id = n.secrets_version_id;
  return {
    aggregateType: "instance",
    aggregateId: instanceId,
    eventType: "instance.allocated",
    orgId: n.g.org_id,
    appId: n.g.app_id,
    envId: n.g.env_id,
    ...(n.deploy_id ? { correlationId: n.deploy_id } : {}),
    payload,
  };
}

/** The reason of the group's last env.scheduling_blocked, unless an _unblocked followed it (§3.4). */
export async function recordedBlock(db: Queryable, g: GroupRef): Promise<string | null> {
  const { rows } = await db.query<{ event_type: string; reason: string | null }>(
    `SELECT event_type, payload->>'reason' AS reason FROM events
      WHERE aggregate_type = 'env' AND aggregate_id = $1 AND payload->>'process_type' = $2
        AND event_type IN ('env.scheduling_blocked', 'env.scheduling_unblocked')
      ORDER BY aggregate_seq DESC LIMIT 1`,
    [g.env_id, g.process_type],
  );
  const last = rows[0];
  return last?.event_type === "env.scheduling_blocked" ? last.reason : null;
}

/**
 * env.scheduling_blocked when the reason differs from the one recorded,
 * env.scheduling_unblocked when a recorded block clears; nothing otherwise
 * (compliance 39). Read under the group's lock, so two passes cannot both
 * record one change; appended at the env's current end, since API writes to
 * the env aggregate are not ours to order against.
 */
export async function recordBlock(
  client: PoolClient,
  meta: CommandMeta,
  g: GroupRef,
  block: Block | null,
  out: Positions,
) {
  const recorded = await recordedBlock(client, g);
  if ((block?.reason ?? null) === recorded) return;
  const unblock = block === null;
  const r = await append(client, {
    meta,
    events: [
      {
        aggregateType: "env",
        aggregateId: g.env_id,
        eventType: unblock ? "env.scheduling_unblocked" : "env.scheduling_blocked",
        orgId: g.org_id,
        appId: g.app_id,
        envId: g.env_id,
        payload: {
          env_id: g.env_id,
          org_id: g.org_id,
          app_id: g.app_id,
          process_type: g.process_type,
          ...(block ? { reason: block.reason, detail: block.detail } : {}),
        },
      },
    ],
  });
  if (!r.replayed) out.add(r.position);
}

/** The last pass's conclusion for env status and `why` (not an event). */
export async function writeStatus(
  client: PoolClient,
  g: GroupRef,
  now: Date,
  block: (Block & { facts?: Blocked["facts"] }) | null,
  error: string | null,
) {
  await client.query(
    `INSERT INTO scheduler_status (env_id, process_type, org_id, last_reconcile_at, last_error,
                                   blocked_reason, blocked_detail, blocked_facts)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (env_id, process_type) DO UPDATE SET
       last_reconcile_at = excluded.last_reconcile_at, last_error = excluded.last_error,
       blocked_reason = excluded.blocked_reason, blocked_detail = excluded.blocked_detail,
       blocked_facts = excluded.blocked_facts`,
    [
      g.env_id,
      g.process_type,
      g.org_id,
      now,
      error,
      block?.reason ?? null,
      block?.detail ?? null,
      block?.facts ? JSON.stringify(factRows(block.facts)) : null,
    ],
  );
}

/**
 * The rows `why` prints: one per node considered, with its rejection in words
 * and in numbers ("memory committed 3.5 GiB + needed 192 MiB > 3.75 GiB").
 * The volume and address facts, when any, come as rows without a node.
 */
export function factRows(facts: Blocked["facts"]): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = facts.nodes.map((v) => ({
    node_id: v.node_id,
    ...v.rejection,
    detail: describeRejection(v.rejection),
  }));
  if (facts.in_use) rows.push({ reason: "volume_in_use", ...facts.in_use });
  if (facts.ipam) rows.push({ reason: "ipam_exhausted", ...facts.ipam });
  for (const v of facts.volumes ?? []) rows.push({ reason: "volume", ...v });
  return rows;
}
