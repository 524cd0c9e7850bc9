// The IPv4 add-on (spec platform.md §8.6) as the env aggregate's
// env.ipv4_addon_enabled / _disabled events: a pure evolve over the env's
// events (ignoring every other env.* event) and pure decisions.
import { KernelError, type NewEvent, type StoredEvent } from "@plfm/kernel";
import type { RouteOwner } from "./route.ts";

export const ENV = "env";

export interface EnvIpv4State {
  enabled: boolean;
  allocationId: string | null;
  address: string | null;
}

export const initialEnvIpv4 = (): EnvIpv4State => ({ enabled: false, allocationId: null, address: null });

export function evolveEnvIpv4(state: EnvIpv4State, e: StoredEvent): EnvIpv4State {
  const p = e.payload as Record<string, unknown>;
  switch (e.eventType) {
    case "env.ipv4_addon_enabled":
      return { enabled: true, allocationId: String(p.allocation_id), address: String(p.ipv4_address) };
    case "env.ipv4_addon_disabled":
      return initialEnvIpv4();
    default:
      return state;
  }
}

/** GET E/networking, and the answer of the IPv4 commands. */
export interface EnvNetworkingView {
  env_id: string;
  ipv4_enabled: boolean;
  ipv4_address: string | null;
  ipv4_allocation_id: string | null;
}

export const networkingView = (envId: string, s: EnvIpv4State): EnvNetworkingView => ({
  env_id: envId,
  ipv4_enabled: s.enabled,
  ipv4_address: s.address,
  ipv4_allocation_id: s.allocationId,
});

const envelope = (o: RouteOwner) => ({
  aggregateType: ENV,
  aggregateId: o.envId,
  orgId: o.orgId,
  appId: o.appId,
  envId: o.envId,
});

/**
 * Enable: already on answers the current state with nothing appended (a
 * retried enable is harmless); otherwise the address the pool offered, or
 * 409 `ipv4_pool_exhausted` when it offered none.
 */
export function decideEnableIpv4(
  state: EnvIpv4State,
  owner: RouteOwner,
  offer: { allocationId: string; address: string } | null,
  at: Date,
): NewEvent[] {
  if (state.enabled) return [];
  if (offer === null) {
    throw new KernelError(
      "ipv4_pool_exhausted",
      "The operator's IPv4 pool has no free address; ask the operator to extend PLFM_IPV4_POOL.",
    );
  }
  return [
    {
      ...envelope(owner),
      eventType: "env.ipv4_addon_enabled",
      payload: {
        env_id: owner.envId,
        org_id: owner.orgId,
        allocation_id: offer.allocationId,
        ipv4_address: offer.address,
        enabled_at: at.toISOString(),
      },
    },
  ];
}

/** Disable: refused while routes need the address, unless an operator forces it (spec §8.6). */
export function decideDisableIpv4(
  state: EnvIpv4State,
  owner: RouteOwner,
  requiringRoutes: readonly string[],
  force: boolean,
  at: Date,
): NewEvent[] {
  if (!state.enabled) throw new KernelError("not_found", "The env's IPv4 add-on is not enabled.");
  if (requiringRoutes.length > 0 && !force) {
    throw new KernelError(
      "ipv4_required_routes",
      `${requiringRoutes.length} route(s) of this env have ipv4_required; change or delete them first.`,
      { extra: { route_ids: requiringRoutes } },
    );
  }
  return [
    {
      ...envelope(owner),
      eventType: "env.ipv4_addon_disabled",
      payload: { env_id: owner.envId, org_id: owner.orgId, disabled_at: at.toISOString() },
    },
  ];
}
