// Shared by the fleet end-to-end tests: enrolling nodes over HTTP. Not used in production.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { Reply, TestServer } from "../tenancy/http-test-kit.ts";
import { user } from "../tenancy/http-test-kit.ts";

export const OPERATOR_EMAIL = "ops@example.com";
export const OP = user(OPERATOR_EMAIL);
/** A signed-in user who is not an operator. */
export const USER = user("dev@example.com");

/** A fresh WireGuard public key (32 random bytes, standard base64). */
export const wgKey = () => randomBytes(32).toString("base64");

export const bearer = (token: string) => `Bearer ${token}`;

/** A new enrollment token's secret, issued by the operator. */
export async function issueToken(t: TestServer, ttlSeconds?: number): Promise<string> {
  const r = await t.call("POST", "/v1/nodes/enrollment-tokens", {
    auth: OP,
    body: ttlSeconds === undefined ? {} : { ttl_seconds: ttlSeconds },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.enrollment_token as string;
}

export function enrollBody(token: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    enrollment_token: token,
    hostname: "worker-1",
    agent_version: "0.1.0",
    supported_api_versions: ["v1"],
    roles: ["worker"],
    public_ipv6: "2001:db8::10",
    wireguard_public_key: wgKey(),
    labels: { arch: "amd64" },
    capacity: { cpu_cores: 4, memory_bytes: 8 * 2 ** 30, disk_bytes: 100 * 2 ** 30 },
    ...overrides,
  };
}

export const enroll = (t: TestServer, body: Record<string, unknown>): Promise<Reply> =>
  t.call("POST", "/v1/nodes/enroll", { body });

export interface EnrolledNode {
  nodeId: string;
  credential: string;
  overlay: string;
}

/** Issues a token and enrolls a node with it. */
export async function enrollNode(
  t: TestServer,
  overrides: Record<string, unknown> = {},
): Promise<EnrolledNode> {
  const r = await enroll(t, enrollBody(await issueToken(t), overrides));
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return {
    nodeId: r.body.node_id as string,
    credential: r.body.node_credential as string,
    overlay: r.body.overlay_ipv6 as string,
  };
}

/** Event types appended for one node, in order. */
export async function nodeEventTypes(t: TestServer, nodeId: string): Promise<string[]> {
  const { rows } = await t.db.pool.query(
    "SELECT event_type FROM events WHERE aggregate_type = 'node' AND aggregate_id = $1 ORDER BY event_id",
    [nodeId],
  );
  return rows.map((r) => r.event_type as string);
}
