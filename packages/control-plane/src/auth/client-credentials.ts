// POST /v1/auth/token with grant_type client_credentials: a service principal
// trades its client id and secret for a 15-minute token valid only in its org.
import { KernelError, loadAggregate, type Pool } from "@plfm/kernel";
import { verifyClientSecret } from "./client-secret.ts";
import { servicePrincipalAggregate } from "./service-principal.ts";
import { ACCESS_TOKEN_TTL_SECONDS, insertAccessToken } from "./token-store.ts";

export interface ClientCredentialsToken {
  access_token: string;
  expires_in_seconds: number;
  /** What the token carries: requested ∩ granted. */
  scopes: string[];
}

const badCredentials = () =>
  new KernelError("unauthorized", "The client_id or client_secret is wrong.", {
    details: [{ field: "client_secret", code: "invalid_client", message: "does not match" }],
  });

/**
 * Checks the secret (argon2id), then reads the principal from its events,
 * not the eventually consistent view: a principal deleted or narrowed a
 * moment ago must not get a token with what it had before.
 */
export async function clientCredentialsToken(
  pool: Pool,
  input: { clientId: string; clientSecret: string; scopes: readonly string[] | undefined },
  now: Date,
): Promise<ClientCredentialsToken> {
  const { rows } = await pool.query<{ client_secret_hash: string }>(
    "SELECT client_secret_hash FROM service_principal_secrets WHERE service_principal_id = $1",
    [input.clientId],
  );
  const ok = await verifyClientSecret(input.clientSecret, rows[0]?.client_secret_hash ?? null);
  if (!ok) throw badCredentials();
  const { state } = await loadAggregate(pool, servicePrincipalAggregate, input.clientId);
  if (!state.exists || state.deleted) throw badCredentials();
  const granted = new Set(state.scopes);
  const scopes = input.scopes === undefined ? [...granted] : input.scopes.filter((s) => granted.has(s));
  if (scopes.length === 0) {
    throw new KernelError(
      "insufficient_scope",
      "None of the requested scopes is granted to this principal.",
      {
        details: [{ field: "scopes", code: "not_granted", message: `granted: ${[...granted].join(" ")}` }],
      },
    );
  }
  const accessToken = await insertAccessToken(
    pool,
    { type: "service_principal", id: input.clientId, email: null, orgId: state.orgId, scopes },
    now,
    null,
  );
  return { access_token: accessToken, expires_in_seconds: ACCESS_TOKEN_TTL_SECONDS, scopes: scopes.sort() };
}
