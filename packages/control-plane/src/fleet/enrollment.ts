// Enrollment (spec platform.md §0.6, §7.1, §8.1): one-time tokens, and the
// enroll command that consumes one, allocates the node's overlay address,
// claims its WireGuard key, issues its credential and appends node.enrolled.
import {
  append,
  KernelError,
  newId,
  type Pool,
  type Position,
  type Queryable,
  wakeReaders,
  withTransaction,
} from "@plfm/kernel";
import { hashToken, newToken } from "../auth/tokens.ts";
import { type AuditLogger, recordAudit } from "../tenancy/audit.ts";
import { decideEnroll, type Enrollment, nodeOverlayAddress } from "./node.ts";

export const DEFAULT_TOKEN_TTL_SECONDS = 3600;
export const MAX_TOKEN_TTL_SECONDS = 86400;

export interface TokenView {
  token_id: string;
  created_by: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  used_by_node_id: string | null;
}

/** Issues a token; the secret is in the answer only, its sha256 in the table. */
export async function createEnrollmentToken(
  db: Queryable,
  createdBy: string,
  ttlSeconds: number,
  now: Date,
): Promise<{ token_id: string; enrollment_token: string; expires_at: string }> {
  const tokenId = newId("etok");
  const token = newToken("enrollment");
  const expiresAt = new Date(now.getTime() + ttlSeconds * 1000);
  await db.query(
    `INSERT INTO enrollment_tokens (token_id, token_hash, created_by, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5)`,
    [tokenId, hashToken(token), createdBy, now, expiresAt],
  );
  return { token_id: tokenId, enrollment_token: token, expires_at: expiresAt.toISOString() };
}

/** Revokes an unused token; 404 when unknown or already revoked. */
export async function revokeEnrollmentToken(db: Queryable, tokenId: string, now: Date): Promise<void> {
  const { rowCount } = await db.query(
    "UPDATE enrollment_tokens SET revoked_at = $2 WHERE token_id = $1 AND revoked_at IS NULL",
    [tokenId, now],
  );
  if (rowCount === 0) throw new KernelError("not_found", "No such enrollment token.");
}

const invalidToken = () =>
  new KernelError("invalid_enrollment_token", "The enrollment token is unknown, expired, used or revoked.");

/** The agent's request, validated by the route's schema and normalised. */
export interface EnrollRequest extends Omit<Enrollment, "overlay_ipv6"> {
  token: string;
  supportedApiVersions?: string[] | undefined;
}

export interface EnrollOutcome {
  nodeId: string;
  credential: string;
  overlayIpv6: string;
  position: Position | null;
}

/** API versions this control plane speaks to agents. */
export const SUPPORTED_AGENT_API_VERSIONS = ["v1"];

/**
 * Enrolls a node. Nothing is consumed when the token is bad or the agent
 * incompatible; a WireGuard key already in use consumes the token (§7.1), so
 * that refusal is raised only after its transaction committed.
 */
export async function enrollNode(
  pool: Pool,
  req: EnrollRequest,
  now: Date,
  requestId: string,
  log: AuditLogger,
): Promise<EnrollOutcome> {
  const nodeId = newId("node");
  const outcome = await withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ token_id: string; expires_at: Date }>(
      `SELECT token_id, expires_at FROM enrollment_tokens
        WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL FOR UPDATE`,
      [hashToken(req.token)],
    );
    const token = rows[0];
    if (!token || token.expires_at.getTime() <= now.getTime()) throw invalidToken();
    const versions = req.supportedApiVersions;
    if (versions && !versions.some((v) => SUPPORTED_AGENT_API_VERSIONS.includes(v))) {
      throw new KernelError(
        "agent_version_unsupported",
        "This agent speaks no API version the server does.",
        {
          extra: { supported_api_versions: SUPPORTED_AGENT_API_VERSIONS },
        },
      );
    }
    await client.query(
      "UPDATE enrollment_tokens SET used_at = $2, used_by_node_id = $3 WHERE token_id = $1",
      [token.token_id, now, nodeId],
    );
    const claimed = await client.query(
      `INSERT INTO node_wireguard_keys (public_key, node_id, claimed_at) VALUES ($1, $2, $3)
       ON CONFLICT (public_key) DO NOTHING`,
      [req.wireguard_public_key, nodeId, now],
    );
    if (claimed.rowCount === 0) return { keyInUse: true as const };
    const overlayIpv6 = await allocateNodeAddress(client, nodeId, now);
    const credential = newToken("node");
    await client.query(
      "INSERT INTO node_credentials (credential_hash, node_id, created_at) VALUES ($1, $2, $3)",
      [hashToken(credential), nodeId, now],
    );
    const { token: _t, supportedApiVersions: _v, ...enrollment } = req;
    const events = decideEnroll(nodeId, { ...enrollment, overlay_ipv6: overlayIpv6 }, now);
    const r = await append(client, {
      meta: { actorType: "node", actorId: nodeId, requestId },
      events,
      expected: [{ aggregateType: "node", aggregateId: nodeId, seq: 0 }],
      clock: { now: () => now },
    });
    await recordAudit(
      client,
      {
        org_id: null,
        actor_type: "enrollment_token",
        actor_id: token.token_id,
        action: "node.enrolled",
        target_type: "node",
        target_id: nodeId,
        request_id: requestId,
        details: { hostname: req.hostname, roles: req.roles, overlay_ipv6: overlayIpv6 },
      },
      log,
    );
    return { keyInUse: false as const, credential, overlayIpv6, position: r.position };
  });
  wakeReaders(pool);
  if (outcome.keyInUse) {
    throw new KernelError("wireguard_key_in_use", "Another node already uses this WireGuard public key.");
  }
  return {
    nodeId,
    credential: outcome.credential,
    overlayIpv6: outcome.overlayIpv6,
    position: outcome.position,
  };
}

/** The next node /128 (§8.1): a sequence never hands a suffix out twice. */
async function allocateNodeAddress(client: Queryable, nodeId: string, now: Date): Promise<string> {
  const { rows } = await client.query<{ n: string }>("SELECT nextval('ipam_node_suffix_seq')::text AS n");
  const suffix = BigInt((rows[0] as { n: string }).n);
  const address = nodeOverlayAddress(suffix);
  await client.query(
    "INSERT INTO ipam_nodes (suffix, node_id, overlay_ipv6, allocated_at) VALUES ($1, $2, $3, $4)",
    [suffix.toString(), nodeId, address, now],
  );
  return address;
}
