// The node aggregate (spec platform.md §2.2 Node, §3.4 node.*, §7.1, §7.2):
// its events, a pure evolve, and pure decisions. No I/O here.
import { KernelError, type NewEvent, type StoredEvent } from "@plfm/kernel";

export const NODE = "node";

/** Node states (§2.2). `enrolled` until the first heartbeat. */
export type NodeState = "enrolled" | "active" | "draining" | "disabled" | "degraded" | "offline";

/** States an operator may set with PATCH /v1/nodes/{node}. */
export type OperatorState = "active" | "draining" | "disabled";

export interface Capacity {
  cpu_cores: number;
  memory_bytes: number;
  disk_bytes: number;
}

/** The node folded from its events. */
export interface NodeAgg {
  exists: boolean;
  state: NodeState;
  keyGeneration: number;
  revoked: boolean;
}

export const initialNode = (): NodeAgg => ({
  exists: false,
  state: "enrolled",
  keyGeneration: 1,
  revoked: false,
});

/** Pure fold of one node event. */
export function evolveNode(s: NodeAgg, e: StoredEvent): NodeAgg {
  const p = e.payload as Record<string, unknown>;
  switch (e.eventType) {
    case "node.enrolled":
      return { ...s, exists: true, state: "enrolled", keyGeneration: 1 };
    case "node.state_changed":
      return { ...s, state: p.state as NodeState };
    case "node.wireguard_key_rotated":
      return { ...s, keyGeneration: Number(p.key_generation) };
    case "node.revoked":
      // A revoked node is disabled for good (§7.1).
      return { ...s, revoked: true, state: "disabled" };
    default:
      return s;
  }
}

export const nodeAggregate = { aggregateType: NODE, initial: initialNode, evolve: evolveNode };

const nodeEvent = (nodeId: string, eventType: string, payload: Record<string, unknown>): NewEvent => ({
  aggregateType: NODE,
  aggregateId: nodeId,
  eventType,
  payload: { node_id: nodeId, ...payload },
});

function requireLive(s: NodeAgg): void {
  if (!s.exists || s.revoked) throw new KernelError("not_found", "No such node.");
}

/** What an enrolling agent told us, already validated. */
export interface Enrollment {
  hostname: string;
  roles: string[];
  public_ipv6?: string | undefined;
  public_ipv4?: string | undefined;
  wireguard_public_key: string;
  overlay_ipv6: string;
  labels: Record<string, string>;
  capacity?: Capacity | undefined;
}

/** node.enrolled, plus node.capacity_updated when the agent reported its hardware. */
export function decideEnroll(nodeId: string, input: Enrollment, now: Date): NewEvent[] {
  const at = now.toISOString();
  const enrolled: Record<string, unknown> = {
    hostname: input.hostname,
    roles: input.roles,
    wireguard_public_key: input.wireguard_public_key,
    overlay_ipv6: input.overlay_ipv6,
    labels: input.labels,
    enrolled_at: at,
  };
  if (input.public_ipv6 !== undefined) enrolled.public_ipv6 = input.public_ipv6;
  if (input.public_ipv4 !== undefined) enrolled.public_ipv4 = input.public_ipv4;
  const events = [nodeEvent(nodeId, "node.enrolled", enrolled)];
  if (input.capacity) {
    events.push(nodeEvent(nodeId, "node.capacity_updated", { allocatable: input.capacity, updated_at: at }));
  }
  return events;
}

/** PATCH state: no event when the node is already there. */
export function decideSetState(
  s: NodeAgg,
  version: number,
  nodeId: string,
  body: { state: OperatorState; reason?: string | undefined; expected_version?: number | undefined },
  now: Date,
): NewEvent[] {
  requireLive(s);
  if (body.expected_version !== undefined && body.expected_version !== version) {
    throw new KernelError("version_conflict", `The node is at version ${version}.`, {
      extra: { current_version: version },
    });
  }
  if (s.state === body.state) return [];
  const payload: Record<string, unknown> = { state: body.state, changed_at: now.toISOString() };
  if (body.reason !== undefined) payload.reason = body.reason;
  return [nodeEvent(nodeId, "node.state_changed", payload)];
}

/**
 * A heartbeat's effect on the state (§7.1, §7.2): the first one makes an
 * enrolled node active, so does one from an offline node; a reported
 * degradation makes it degraded, and its absence ends one. An operator's
 * draining or disabled is never overridden by the agent.
 */
export function decideHeartbeat(
  s: NodeAgg,
  nodeId: string,
  report: { degraded_reason?: string | undefined },
  now: Date,
): NewEvent[] {
  requireLive(s);
  if (s.state === "draining" || s.state === "disabled") return [];
  const target: NodeState = report.degraded_reason ? "degraded" : "active";
  if (target === s.state) return [];
  const payload: Record<string, unknown> = { state: target, changed_at: now.toISOString() };
  if (report.degraded_reason) payload.reason = report.degraded_reason;
  return [nodeEvent(nodeId, "node.state_changed", payload)];
}

/**
 * The scheduler's verdict on a silent node (§6.3: no heartbeat for 45 s):
 * active or degraded → offline. An operator's draining or disabled stays;
 * the next heartbeat brings it back (decideHeartbeat). Revoked or gone → nothing.
 */
export function decideOffline(s: NodeAgg, nodeId: string, silentForMs: number, now: Date): NewEvent[] {
  if (!s.exists || s.revoked) return [];
  if (s.state !== "active" && s.state !== "degraded") return [];
  return [
    nodeEvent(nodeId, "node.state_changed", {
      state: "offline",
      reason: `no heartbeat for ${Math.round(silentForMs / 1000)} s`,
      changed_at: now.toISOString(),
    }),
  ];
}

export function decideRotateCredential(s: NodeAgg, nodeId: string, now: Date): NewEvent[] {
  requireLive(s);
  return [nodeEvent(nodeId, "node.credential_rotated", { rotated_at: now.toISOString() })];
}

/**
 * node.wireguard_key_rotated with the next key generation; the current key
 * again is a retry and appends nothing (the caller has checked no other
 * node holds the key).
 */
export function decideRotateWireguardKey(
  s: NodeAgg,
  nodeId: string,
  currentKey: string | null,
  key: string,
  now: Date,
): NewEvent[] {
  requireLive(s);
  if (key === currentKey) return [];
  return [
    nodeEvent(nodeId, "node.wireguard_key_rotated", {
      wireguard_public_key: key,
      key_generation: s.keyGeneration + 1,
      rotated_at: now.toISOString(),
    }),
  ];
}

export function decideRevoke(s: NodeAgg, nodeId: string, reason: string | undefined, now: Date): NewEvent[] {
  requireLive(s);
  const payload: Record<string, unknown> = { revoked_at: now.toISOString() };
  if (reason !== undefined) payload.reason = reason;
  return [nodeEvent(nodeId, "node.revoked", payload)];
}

const NODE_PREFIX_GROUPS = [0xfd70, 0x6c66, 0, 0];

/**
 * The node overlay /128 for suffix `n` ≥ 1 in fd70:6c66::/64 (§0.16, §8.1),
 * in RFC 5952 form (longest run of zero groups compressed).
 */
export function nodeOverlayAddress(n: bigint): string {
  if (n < 1n || n >= 1n << 64n) throw new RangeError(`node suffix out of range: ${n}`);
  const groups = [...NODE_PREFIX_GROUPS];
  for (let shift = 48n; shift >= 0n; shift -= 16n) groups.push(Number((n >> shift) & 0xffffn));
  return compressIpv6(groups);
}

/** RFC 5952 text of eight 16-bit groups: lowercase, the longest (first) run of ≥ 2 zero groups as `::`. */
export function compressIpv6(groups: readonly number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}
