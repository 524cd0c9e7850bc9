// Request and response schemas shared by the auth routes.
import { Type } from "typebox";
import { ALL_SCOPES } from "./scopes.ts";
import { tokenPattern } from "./tokens.ts";

/**
 * Scopes a token or a service principal may be given. `nodes:admin` is not
 * one: it comes only from PLFM_OPERATOR_EMAILS (spec §4.5).
 */
export const GRANTABLE_SCOPES = ALL_SCOPES.filter((s) => s !== "nodes:admin");

export const ScopeList = Type.Array(Type.Enum(GRANTABLE_SCOPES), {
  uniqueItems: true,
  maxItems: GRANTABLE_SCOPES.length,
});

export const AccessToken = Type.String({ pattern: tokenPattern("access") });
export const RefreshToken = Type.String({ pattern: tokenPattern("refresh") });
export const DeviceCode = Type.String({ pattern: tokenPattern("device") });

export const TokenPairResponse = Type.Object({
  access_token: Type.String(),
  refresh_token: Type.String(),
  expires_in_seconds: Type.Integer(),
});
