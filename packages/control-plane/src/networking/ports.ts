// Which listener a route occupies, and when two routes cannot share one
// (spec platform.md §8.3). Pure; the command side runs it under a per-port lock.
//
// Listeners are (address, port). Every route of an env is served on the env's
// own IPv4 when it has the add-on; routes are also served on the edges'
// shared IPv6 address, except a tcp_raw route marked ipv4_required, which
// lives on its env's IPv4 alone.
//   - tls_passthrough routes share a listener, told apart by SNI;
//   - a tcp_raw route owns its listener: nothing else may use that port on
//     the same address — on the shared IPv6 that means no other route of any
//     env on that port; on the env's IPv4, no other route of the env.
// The shared TLS ports (443, and 80 when an edge listens there) are never
// owned by one tenant's tcp_raw route on the shared IPv6.

/** Never allowed as a listen port (telnet, SMTP, NetBIOS). */
export const FORBIDDEN_PORTS: ReadonlySet<number> = new Set([23, 25, 137, 138, 139]);
/** The edges' shared TLS listener ports (PLFM_EDGE_LISTENERS: 443, 80 optional). */
export const SHARED_TLS_PORTS: ReadonlySet<number> = new Set([80, 443]);

export type ProtocolHint = "tls_passthrough" | "tcp_raw";

/** What the port rules need to know about a route. */
export interface PortClaim {
  routeId: string;
  envId: string;
  listenPort: number;
  protocolHint: ProtocolHint;
  ipv4Required: boolean;
}

/** Whether the route is served on the edges' shared IPv6 address. */
export function onSharedIpv6(c: Pick<PortClaim, "protocolHint" | "ipv4Required">): boolean {
  return !(c.protocolHint === "tcp_raw" && c.ipv4Required);
}

/**
 * Why `candidate` cannot take its port given the routes already on that port
 * (any env), or null when it can. `existing` may include the candidate itself.
 */
export function portConflict(candidate: PortClaim, existing: readonly PortClaim[]): string | null {
  const port = candidate.listenPort;
  if (candidate.protocolHint === "tcp_raw" && onSharedIpv6(candidate) && SHARED_TLS_PORTS.has(port)) {
    return `Port ${port} is a shared TLS listener; a tcp_raw route can own it only on its env's IPv4 (ipv4_required: true).`;
  }
  for (const other of existing) {
    if (other.routeId === candidate.routeId || other.listenPort !== port) continue;
    if (candidate.protocolHint !== "tcp_raw" && other.protocolHint !== "tcp_raw") continue;
    const sameEnv = other.envId === candidate.envId;
    if (sameEnv || (onSharedIpv6(candidate) && onSharedIpv6(other))) {
      return sameEnv
        ? `Port ${port} is already used by route ${other.routeId} of this env; a tcp_raw route owns its port.`
        : `Port ${port} is already taken on the shared edge address; a tcp_raw route owns its port.`;
    }
  }
  return null;
}
