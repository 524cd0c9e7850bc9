// Per-node eligibility (spec platform.md §6.2): either the node can take one
// more instance of the request, or the first rule it breaks, with the facts
// `why` prints. Checks run cheapest-and-most-fundamental first, so a node is
// reported for the first reason an operator would have to fix.
import type { NodeFacts, NodeRejection, PlacementRequest, Settings } from "./types.ts";

/**
 * The rules that do not depend on what is placed on the node: role, state,
 * heartbeat, health, allocatable, arch. Null when the node passes them.
 */
export function staticRejection(
  node: NodeFacts,
  request: PlacementRequest,
  settings: Settings,
  now: number,
): NodeRejection | null {
  if (!node.roles.includes("worker")) return { reason: "role_not_worker", roles: [...node.roles] };
  if (!(node.state === "active" || (node.state === "degraded" && settings.allow_degraded))) {
    return { reason: "state_not_active", state: node.state };
  }
  const age = node.last_heartbeat_at === null ? null : now - node.last_heartbeat_at;
  if (age === null || age >= settings.heartbeat_timeout_ms) {
    return { reason: "heartbeat_stale", age_ms: age, timeout_ms: settings.heartbeat_timeout_ms };
  }
  if (!node.healthy) return { reason: "unhealthy" };
  const { cpu_cores, memory_bytes } = node.allocatable;
  if (!(cpu_cores > 0 && memory_bytes > 0)) return { reason: "no_allocatable", cpu_cores, memory_bytes };
  if (!request.archs.includes(node.arch)) {
    return { reason: "arch_mismatch", node_arch: node.arch, wanted: [...request.archs] };
  }
  return null;
}

/** allocatable − reserved: what instances may commit on the node. */
export const memoryCapacity = (node: NodeFacts): number =>
  node.allocatable.memory_bytes - node.reserved_memory_bytes;

/** memory_limit + overhead: what one new instance commits. */
export const memoryNeeded = (request: PlacementRequest, settings: Settings): number =>
  request.memory_limit_bytes + settings.overhead_bytes;

/** The hard memory rule (§6.2 (1)), null when `needed` fits. */
export function memoryRejection(committed: number, needed: number, capacity: number): NodeRejection | null {
  if (committed + needed <= capacity) return null;
  return { reason: "memory", committed_bytes: committed, needed_bytes: needed, capacity_bytes: capacity };
}

/** Every rule for one node given what it already commits (for `why` and tests). */
export function evaluateNode(
  node: NodeFacts,
  committed_bytes: number,
  request: PlacementRequest,
  settings: Settings,
  now: number,
): NodeRejection | null {
  return (
    staticRejection(node, request, settings, now) ??
    memoryRejection(committed_bytes, memoryNeeded(request, settings), memoryCapacity(node))
  );
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** 536870912 → "512 MiB", 3758096384 → "3.5 GiB". */
export function formatBytes(n: number): string {
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : Number(v.toFixed(2))} ${UNITS[u]}`;
}

/** One line per rejection, e.g. "memory committed 3.5 GiB + needed 576 MiB > 3.75 GiB". */
export function describeRejection(r: NodeRejection): string {
  switch (r.reason) {
    case "role_not_worker":
      return `roles [${r.roles.join(", ")}] do not include worker`;
    case "state_not_active":
      return `state ${r.state}, not active`;
    case "heartbeat_stale":
      return r.age_ms === null
        ? "no heartbeat received"
        : `last heartbeat ${Math.round(r.age_ms / 1000)} s ago (limit ${r.timeout_ms / 1000} s)`;
    case "unhealthy":
      return "runtime or overlay unhealthy";
    case "no_allocatable":
      return `no allocatable capacity (${r.cpu_cores} cores, ${formatBytes(r.memory_bytes)})`;
    case "arch_mismatch":
      return `arch ${r.node_arch}, release has [${r.wanted.join(", ")}]`;
    case "memory":
      return `memory committed ${formatBytes(r.committed_bytes)} + needed ${formatBytes(r.needed_bytes)} > ${formatBytes(r.capacity_bytes)}`;
  }
}
