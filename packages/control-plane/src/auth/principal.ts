import { KernelError, type Queryable } from "@plfm/kernel";
import { ALL_SCOPES, isRole, isScope, ROLE_SCOPES, type Role, type Scope } from "./scopes.ts";
import { hashToken, userIdFor } from "./tokens.ts";

/** Who is calling, as established from the bearer token. */
export interface Principal {
  type: "user" | "service_principal";
  id: string;
  email: string | null;
  /** Scopes the token carries, before they meet a role. */
  tokenScopes: ReadonlySet<Scope>;
  /** Email listed in PLFM_OPERATOR_EMAILS: adds `nodes:admin`. */
  operator: boolean;
  /** Service principals act in one org only. */
  orgId: string | null;
}

/** A principal's standing in one org. */
export interface OrgAccess {
  orgId: string;
  role: Role | null;
  scopes: ReadonlySet<Scope>;
}

export interface AuthSettings {
  /** PLFM_DEV=1: accept `Bearer user:<email>` and `Bearer sp:<id>` (never in production). */
  dev: boolean;
  operatorEmails: ReadonlySet<string>;
}

const BEARER_RE = /^Bearer ([\x21-\x7e]{1,512})$/;

/**
 * Establishes the principal from an Authorization header. Tokens are looked up
 * by their sha256; the header's value never reaches a log or an error.
 */
export async function authenticate(
  db: Queryable,
  header: string | undefined,
  settings: AuthSettings,
  now: Date,
): Promise<Principal> {
  if (header === undefined || header === "") {
    throw new KernelError("unauthorized", "This endpoint needs an Authorization: Bearer token.");
  }
  const m = BEARER_RE.exec(header);
  if (!m?.[1])
    throw new KernelError("invalid_authorization", "The Authorization header must be `Bearer <token>`.");
  const token = m[1];
  if (settings.dev && token.startsWith("user:")) return devUser(token.slice(5), settings);
  if (settings.dev && token.startsWith("sp:")) return devServicePrincipal(db, token.slice(3));
  const { rows } = await db.query<{
    subject_type: "user" | "service_principal";
    subject_id: string;
    email: string | null;
    org_id: string | null;
    scopes: string[];
    expires_at: Date;
    revoked_at: Date | null;
  }>({
    name: "auth_access_token",
    text: `SELECT subject_type, subject_id, email, org_id, scopes, expires_at, revoked_at
             FROM access_tokens WHERE token_hash = $1`,
    values: [hashToken(token)],
  });
  const row = rows[0];
  if (!row) throw new KernelError("invalid_token", "The token is not valid.");
  if (row.revoked_at !== null) throw new KernelError("token_revoked", "The token was revoked.");
  if (row.expires_at <= now) throw new KernelError("token_expired", "The token has expired; refresh it.");
  const email = row.email;
  return {
    type: row.subject_type,
    id: row.subject_id,
    email,
    tokenScopes: new Set(row.scopes.filter(isScope)),
    operator: email !== null && settings.operatorEmails.has(email.toLowerCase()),
    orgId: row.org_id,
  };
}

function devUser(email: string, settings: AuthSettings): Principal {
  const normalised = email.trim().toLowerCase();
  if (!/^[^@\s]+@[^@\s]+$/.test(normalised)) {
    throw new KernelError("invalid_token", "A dev token is `user:<email>`.");
  }
  return {
    type: "user",
    id: userIdFor(normalised),
    email: normalised,
    tokenScopes: new Set(ALL_SCOPES.filter((s) => s !== "nodes:admin")),
    operator: settings.operatorEmails.has(normalised),
    orgId: null,
  };
}

/** `sp:<id>` in dev mode: the principal with all its granted scopes, in its org. */
async function devServicePrincipal(db: Queryable, id: string): Promise<Principal> {
  const { rows } = await db.query<{ org_id: string; scopes: string[] }>(
    "SELECT org_id, scopes FROM service_principals WHERE service_principal_id = $1 AND NOT is_deleted",
    [id],
  );
  const row = rows[0];
  if (!row) throw new KernelError("invalid_token", "A dev token `sp:<id>` names a live service principal.");
  return {
    type: "service_principal",
    id,
    email: null,
    tokenScopes: new Set(row.scopes.filter(isScope)),
    operator: false,
    orgId: row.org_id,
  };
}

/**
 * The principal's access to an org: membership checked on every request (403
 * `org_access_denied`, the same whether the org exists or not, so ids cannot
 * be probed), then the scope (403 `insufficient_scope`).
 */
export async function authorizeOrg(
  db: Queryable,
  principal: Principal,
  orgId: string,
  required: Scope | null,
): Promise<OrgAccess> {
  let role: Role | null = null;
  let scopes: Set<Scope>;
  if (principal.type === "service_principal") {
    if (principal.orgId !== orgId) throw orgDenied();
    scopes = new Set(principal.tokenScopes);
  } else {
    const { rows } = await db.query<{ role: string }>({
      name: "auth_member_role",
      text: "SELECT role FROM org_members WHERE user_id = $1 AND org_id = $2 AND NOT is_deleted",
      values: [principal.id, orgId],
    });
    const found = rows[0]?.role;
    if (found === undefined || !isRole(found)) throw orgDenied();
    role = found;
    scopes = new Set([...principal.tokenScopes].filter((s) => ROLE_SCOPES[found].has(s)));
  }
  if (principal.operator) scopes.add("nodes:admin");
  if (required !== null && !scopes.has(required)) {
    throw new KernelError("insufficient_scope", `This needs the ${required} scope.`, {
      extra: { required_scope: required },
    });
  }
  return { orgId, role, scopes };
}

const orgDenied = () => new KernelError("org_access_denied", "You are not a member of this organisation.");
