// Access and refresh tokens: issue, rotate, revoke. Only sha256 hashes are
// stored; a token is shown to its holder once, in the response that issues it.
import { KernelError, type Pool, type Queryable, withTransaction } from "@plfm/kernel";
import { ACCESS_TOKEN_TTL_MS, hashToken, newToken, REFRESH_TOKEN_TTL_MS, TOKEN_PREFIX } from "./tokens.ts";

/** Whom a token speaks for, and with which scopes. */
export interface TokenSubject {
  type: "user" | "service_principal";
  id: string;
  email: string | null;
  /** Service principals: the only org the token is valid in. */
  orgId: string | null;
  scopes: readonly string[];
}

/** What the token endpoints answer. */
export interface TokenPair {
  access_token: string;
  refresh_token: string;
  expires_in_seconds: number;
}

export const ACCESS_TOKEN_TTL_SECONDS = ACCESS_TOKEN_TTL_MS / 1000;

/** Inserts a new access token; `refreshHash` links it to the refresh token it came with. */
export async function insertAccessToken(
  db: Queryable,
  subject: TokenSubject,
  now: Date,
  refreshHash: string | null,
): Promise<string> {
  const token = newToken("access");
  await db.query({
    name: "auth_insert_access_token",
    text: `INSERT INTO access_tokens (token_hash, subject_type, subject_id, email, org_id, scopes,
                                      expires_at, refresh_token_hash, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    values: [
      hashToken(token),
      subject.type,
      subject.id,
      subject.email,
      subject.orgId,
      [...subject.scopes],
      new Date(now.getTime() + ACCESS_TOKEN_TTL_MS),
      refreshHash,
      now,
    ],
  });
  return token;
}

/** Inserts a refresh token; a null `familyId` starts a new chain (named after this token's hash). */
async function insertRefreshToken(
  db: Queryable,
  subject: TokenSubject,
  familyId: string | null,
  now: Date,
): Promise<{ token: string; hash: string }> {
  const token = newToken("refresh");
  const hash = hashToken(token);
  await db.query({
    name: "auth_insert_refresh_token",
    text: `INSERT INTO refresh_tokens (token_hash, family_id, subject_type, subject_id, email, scopes,
                                       expires_at, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    values: [
      hash,
      familyId ?? hash,
      subject.type,
      subject.id,
      subject.email,
      [...subject.scopes],
      new Date(now.getTime() + REFRESH_TOKEN_TTL_MS),
      now,
    ],
  });
  return { token, hash };
}

/** A user's sign-in: an access token and the first refresh token of a new chain. */
export async function issueUserTokens(db: Queryable, subject: TokenSubject, now: Date): Promise<TokenPair> {
  const refresh = await insertRefreshToken(db, subject, null, now);
  const access = await insertAccessToken(db, subject, now, refresh.hash);
  return { access_token: access, refresh_token: refresh.token, expires_in_seconds: ACCESS_TOKEN_TTL_SECONDS };
}

interface RefreshRow {
  family_id: string;
  subject_type: "user" | "service_principal";
  subject_id: string;
  email: string | null;
  scopes: string[];
  expires_at: Date;
  rotated_at: Date | null;
  revoked_at: Date | null;
}

/**
 * Exchanges a refresh token for a new pair and retires it. Presenting a
 * retired token again means it leaked (or the client is confused): the whole
 * chain is revoked, access tokens included, and the caller gets 401
 * `token_revoked`. The revocation commits even though the request fails.
 */
export async function refreshTokens(pool: Pool, refreshToken: string, now: Date): Promise<TokenPair> {
  const hash = hashToken(refreshToken);
  const outcome = await withTransaction(pool, async (client) => {
    // FOR UPDATE: two concurrent refreshes with one token must not both win.
    const { rows } = await client.query<RefreshRow>(
      `SELECT family_id, subject_type, subject_id, email, scopes, expires_at, rotated_at, revoked_at
         FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE`,
      [hash],
    );
    const row = rows[0];
    if (!row) return { error: new KernelError("invalid_token", "The refresh token is not valid.") };
    if (row.revoked_at !== null) {
      return { error: new KernelError("token_revoked", "The refresh token was revoked; sign in again.") };
    }
    if (row.rotated_at !== null) {
      await revokeFamily(client, row.family_id, now);
      return {
        error: new KernelError(
          "token_revoked",
          "This refresh token was already used; its whole chain is now revoked. Sign in again.",
        ),
      };
    }
    if (row.expires_at <= now) {
      return { error: new KernelError("token_expired", "The refresh token has expired; sign in again.") };
    }
    await client.query("UPDATE refresh_tokens SET rotated_at = $2 WHERE token_hash = $1", [hash, now]);
    const subject: TokenSubject = {
      type: row.subject_type,
      id: row.subject_id,
      email: row.email,
      orgId: null,
      scopes: row.scopes,
    };
    const next = await insertRefreshToken(client, subject, row.family_id, now);
    const access = await insertAccessToken(client, subject, now, next.hash);
    const pair: TokenPair = {
      access_token: access,
      refresh_token: next.token,
      expires_in_seconds: ACCESS_TOKEN_TTL_SECONDS,
    };
    return { pair };
  });
  if ("error" in outcome) throw outcome.error;
  return outcome.pair;
}

/**
 * Revokes every refresh token of a chain and the live access tokens issued
 * with them. `access_tokens` has no index on refresh_token_hash, but live
 * tokens are the few issued in the last 15 minutes: the expiry index finds
 * them, and expired ones need no revoking.
 */
export async function revokeFamily(db: Queryable, familyId: string, now: Date): Promise<void> {
  await db.query(
    `WITH chain AS (
       UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, $2)
        WHERE family_id = $1 RETURNING token_hash)
     UPDATE access_tokens SET revoked_at = $2
      WHERE revoked_at IS NULL AND expires_at > $2
        AND refresh_token_hash IN (SELECT token_hash FROM chain)`,
    [familyId, now],
  );
}

/**
 * Revokes what it is given. A refresh token takes its chain and their access
 * tokens with it (signing out). Unknown tokens are not an error (RFC 7009
 * §2.2): the caller wanted them unusable, and they are.
 */
export async function revokeTokens(
  pool: Pool,
  tokens: { refresh_token?: string | undefined; access_token?: string | undefined },
  now: Date,
): Promise<void> {
  await withTransaction(pool, async (client) => {
    if (tokens.refresh_token?.startsWith(TOKEN_PREFIX.refresh)) {
      const { rows } = await client.query<{ family_id: string }>(
        "SELECT family_id FROM refresh_tokens WHERE token_hash = $1",
        [hashToken(tokens.refresh_token)],
      );
      if (rows[0]) await revokeFamily(client, rows[0].family_id, now);
    }
    if (tokens.access_token?.startsWith(TOKEN_PREFIX.access)) {
      await client.query(
        "UPDATE access_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
        [hashToken(tokens.access_token), now],
      );
    }
  });
}

/**
 * Revokes a service principal's live access tokens, or with `keep` only those
 * carrying a scope outside it (after its scopes were narrowed).
 */
export async function revokePrincipalTokens(
  db: Queryable,
  servicePrincipalId: string,
  now: Date,
  keep: readonly string[] | null,
): Promise<void> {
  await db.query(
    `UPDATE access_tokens SET revoked_at = $2
      WHERE subject_type = 'service_principal' AND subject_id = $1
        AND revoked_at IS NULL AND expires_at > $2
        AND ($3::text[] IS NULL OR NOT scopes <@ $3::text[])`,
    [servicePrincipalId, now, keep === null ? null : [...keep]],
  );
}
