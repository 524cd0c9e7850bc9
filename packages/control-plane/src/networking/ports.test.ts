import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { onSharedIpv6, type PortClaim, portConflict } from "./ports.ts";

const route = (
  routeId: string,
  envId: string,
  listenPort: number,
  protocolHint: PortClaim["protocolHint"],
  ipv4Required = false,
): PortClaim => ({ routeId, envId, listenPort, protocolHint, ipv4Required });

describe("port rules", () => {
  test("tls_passthrough routes share a port, across envs and within one", () => {
    const existing = [
      route("rt_a", "env_1", 443, "tls_passthrough"),
      route("rt_b", "env_2", 443, "tls_passthrough"),
    ];
    assert.equal(portConflict(route("rt_c", "env_1", 443, "tls_passthrough"), existing), null);
    assert.equal(portConflict(route("rt_d", "env_3", 443, "tls_passthrough", true), existing), null);
  });

  test("a tcp_raw route owns its port on the shared IPv6 address, for every env", () => {
    const raw = [route("rt_a", "env_1", 5432, "tcp_raw")];
    assert.match(portConflict(route("rt_b", "env_2", 5432, "tcp_raw"), raw) ?? "", /shared edge address/);
    assert.match(
      portConflict(route("rt_b", "env_2", 5432, "tls_passthrough"), raw) ?? "",
      /shared edge address/,
    );
    assert.match(portConflict(route("rt_b", "env_1", 5432, "tls_passthrough"), raw) ?? "", /rt_a/);
    assert.equal(portConflict(route("rt_b", "env_2", 5433, "tcp_raw"), raw), null);
    // A tcp_raw route does not conflict with itself (PATCH re-checks it).
    assert.equal(portConflict(raw[0] as PortClaim, raw), null);
  });

  test("tcp_raw on a shared TLS port only on the env's own IPv4", () => {
    assert.match(portConflict(route("rt_a", "env_1", 443, "tcp_raw"), []) ?? "", /shared TLS listener/);
    assert.match(portConflict(route("rt_a", "env_1", 80, "tcp_raw"), []) ?? "", /shared TLS listener/);
    const shared = [route("rt_t", "env_2", 443, "tls_passthrough")];
    assert.equal(portConflict(route("rt_a", "env_1", 443, "tcp_raw", true), shared), null);
  });

  test("on an env's IPv4, a tcp_raw route excludes the env's other routes on its port", () => {
    const v4only = [route("rt_a", "env_1", 8443, "tcp_raw", true)];
    assert.equal(onSharedIpv6(v4only[0] as PortClaim), false);
    assert.notEqual(portConflict(route("rt_b", "env_1", 8443, "tls_passthrough"), v4only), null);
    assert.notEqual(portConflict(route("rt_b", "env_1", 8443, "tcp_raw", true), v4only), null);
    // Other envs have their own address, and the IPv4-only route is not on the shared one.
    assert.equal(portConflict(route("rt_b", "env_2", 8443, "tcp_raw", true), v4only), null);
    assert.equal(portConflict(route("rt_b", "env_2", 8443, "tcp_raw"), v4only), null);
    assert.equal(portConflict(route("rt_b", "env_2", 8443, "tls_passthrough"), v4only), null);
  });
});
