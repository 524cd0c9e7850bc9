import { createHash, randomBytes } from "node:crypto";

/** Token kinds and their prefixes (spec platform.md §0.1, §4.5). */
export const TOKEN_PREFIX = {
  access: "plfm_at_",
  refresh: "plfm_rt_",
  device: "plfm_dc_",
  node: "plfm_node_",
  enrollment: "plfm_enroll_",
  exec: "plfm_ex_",
} as const;

export type TokenKind = keyof typeof TOKEN_PREFIX;

/** Access tokens live 15 minutes; refresh tokens 30 days; device codes 10 minutes (spec §4.5). */
export const ACCESS_TOKEN_TTL_MS = 15 * 60 * 1000;
export const REFRESH_TOKEN_TTL_MS = 30 * 24 * 60 * 60 * 1000;
export const DEVICE_CODE_TTL_MS = 10 * 60 * 1000;

/** `plfm_xx_` + 43 base64url characters (32 bytes, no padding). */
export function tokenPattern(kind: TokenKind): string {
  return `^${TOKEN_PREFIX[kind]}[A-Za-z0-9_-]{43}$`;
}

/** A new token: prefix + 32 random bytes base64url. Only its hash is ever stored. */
export function newToken(kind: TokenKind): string {
  return TOKEN_PREFIX[kind] + randomBytes(32).toString("base64url");
}

/** sha256 hex: tokens carry 256 bits of entropy, so a fast hash is the right one. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** User ids are derived from the email (spec §2.1): `usr_` + 32 hex of sha256(lower(email)). */
export function userIdFor(email: string): string {
  return `usr_${createHash("sha256").update(email.trim().toLowerCase()).digest("hex").slice(0, 32)}`;
}
