// Volume constraints checked once per call, before any node is scored
// (spec platform.md §6.2 (2), (3); compliance 38). A volume-backed group has
// exactly one candidate node, its volumes' shared home.
import { staticRejection } from "./eligibility.ts";
import type { Blocked, BlockedFacts, LiveInstance, NodeFacts, PlacementRequest, Settings } from "./types.ts";
import { holdsVolume } from "./usage.ts";

export type VolumeCheck = { home: NodeFacts | null; blocked?: never } | { blocked: Blocked };

const GONE = new Set(["offline", "disabled"]);

/**
 * In order: all volumes share one home (else volume_constraints_invalid);
 * the home node is there and alive (else volume_home_node_offline: offline
 * or disabled in the view or in the request, unknown, or its heartbeat older
 * than the timeout, which is what makes it offline a tick later); no volume
 * is held by a non-stopped, non-draining instance (else volume_in_use).
 * Offline comes before in-use because the holder of a volume on a dead node
 * is usually the instance that died with it.
 */
export function checkVolumes(
  nodesById: ReadonlyMap<string, NodeFacts>,
  live: readonly LiveInstance[],
  request: PlacementRequest,
  settings: Settings,
  now: number,
): VolumeCheck {
  if (request.volumes.length === 0) return { home: null };
  const volumes = [...request.volumes]
    .sort((a, b) => cmp(a.volume_id, b.volume_id))
    .map((v) => ({
      volume_id: v.volume_id,
      home_node_id: v.home_node_id,
      home_node_state: v.home_node_state ?? null,
    }));
  const facts = (extra: Partial<BlockedFacts>): BlockedFacts => ({
    requested: request.count,
    placed: 0,
    nodes: [],
    volumes,
    ...extra,
  });
  const homes = [...new Set(volumes.map((v) => v.home_node_id))].sort(cmp);
  const homeId = homes[0];
  if (homeId === undefined || homes.length > 1) {
    return block(
      "volume_constraints_invalid",
      `volumes have different home nodes: ${homes.join(", ")}`,
      facts({}),
    );
  }
  const node = nodesById.get(homeId);
  const stale =
    node !== undefined &&
    (node.last_heartbeat_at === null || now - node.last_heartbeat_at >= settings.heartbeat_timeout_ms);
  if (
    !node ||
    GONE.has(node.state) ||
    volumes.some((v) => v.home_node_state === null || GONE.has(v.home_node_state)) ||
    stale
  ) {
    const rejection = node ? staticRejection(node, request, settings, now) : null;
    const nodes = node && rejection ? [{ node_id: node.node_id, rejection }] : [];
    return block(
      "volume_home_node_offline",
      `home node ${homeId} is ${node ? node.state : "gone"}`,
      facts({ nodes }),
    );
  }
  const holder = firstHolder(live, new Set(volumes.map((v) => v.volume_id)));
  if (holder) {
    const detail = `volume ${holder.volume_id} is held by instance ${holder.instance_id} on ${holder.node_id}`;
    return block("volume_in_use", detail, facts({ in_use: holder }));
  }
  return { home: node };
}

/** The smallest (volume_id, instance_id) pair held by a live instance, so the fact is stable. */
function firstHolder(live: readonly LiveInstance[], wanted: ReadonlySet<string>) {
  let best: { volume_id: string; instance_id: string; node_id: string } | null = null;
  for (const i of live) {
    if (!holdsVolume(i)) continue;
    for (const v of i.volume_ids) {
      if (!wanted.has(v)) continue;
      if (!best || v < best.volume_id || (v === best.volume_id && i.instance_id < best.instance_id)) {
        best = { volume_id: v, instance_id: i.instance_id, node_id: i.node_id };
      }
    }
  }
  return best;
}

const block = (reason: Blocked["reason"], detail: string, facts: BlockedFacts): VolumeCheck => ({
  blocked: { reason, detail, facts },
});

/** Code-unit order: locale-independent, so the same ids sort the same everywhere. */
export const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
