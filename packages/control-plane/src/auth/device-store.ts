// The device-authorization flow's I/O: start, poll, approve (spec §4.5, RFC 8628).
import { KernelError, type Pool, sqlState, UNIQUE_VIOLATION, withTransaction } from "@plfm/kernel";
import {
  type DeviceCodeState,
  type DeviceStatus,
  decidePoll,
  newUserCode,
  POLL_INTERVAL_SECONDS,
} from "./device-flow.ts";
import type { Principal } from "./principal.ts";
import { isScope } from "./scopes.ts";
import { issueUserTokens, type TokenPair } from "./token-store.ts";
import { DEVICE_CODE_TTL_MS, hashToken, newToken } from "./tokens.ts";

export interface DeviceStart {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in_seconds: number;
  poll_interval_seconds: number;
}

const USER_CODE_ATTEMPTS = 5;

/** Opens a device request; `baseUrl` is where users find the approval page. */
export async function startDevice(
  pool: Pool,
  input: { clientName: string; scopes: readonly string[] },
  baseUrl: string,
  now: Date,
): Promise<DeviceStart> {
  const deviceCode = newToken("device");
  const expiresAt = new Date(now.getTime() + DEVICE_CODE_TTL_MS);
  for (let attempt = 1; ; attempt++) {
    const userCode = newUserCode();
    try {
      await pool.query(
        `INSERT INTO device_codes (device_code_hash, user_code, client_name, scopes, status,
                                   created_at, expires_at, poll_interval_seconds)
         VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7)`,
        [
          hashToken(deviceCode),
          userCode,
          input.clientName,
          [...input.scopes],
          now,
          expiresAt,
          POLL_INTERVAL_SECONDS,
        ],
      );
      const page = `${baseUrl.replace(/\/+$/, "")}/device`;
      return {
        device_code: deviceCode,
        user_code: userCode,
        verification_uri: page,
        verification_uri_complete: `${page}?user_code=${userCode}`,
        expires_in_seconds: DEVICE_CODE_TTL_MS / 1000,
        poll_interval_seconds: POLL_INTERVAL_SECONDS,
      };
    } catch (err) {
      // Another pending request holds this user code: draw again.
      if (sqlState(err) !== UNIQUE_VIOLATION || attempt >= USER_CODE_ATTEMPTS) throw err;
    }
  }
}

interface DeviceRow {
  status: DeviceStatus;
  expires_at: Date;
  poll_interval_seconds: number;
  last_polled_at: Date | null;
  user_id: string | null;
  email: string | null;
  granted_scopes: string[] | null;
}

/**
 * One poll of the device: tokens once approved, else one of the RFC 8628
 * answers as a 400 problem (`authorization_pending`, `slow_down` with the new
 * `poll_interval_seconds`, `expired_token`, `access_denied`). The row update
 * (last poll, interval, status) commits even when the answer is an error.
 */
export async function pollDevice(pool: Pool, deviceCode: string, now: Date): Promise<TokenPair> {
  const hash = hashToken(deviceCode);
  const result = await withTransaction(pool, async (client) => {
    const { rows } = await client.query<DeviceRow>(
      `SELECT status, expires_at, poll_interval_seconds, last_polled_at, user_id, email, granted_scopes
         FROM device_codes WHERE device_code_hash = $1 FOR UPDATE`,
      [hash],
    );
    const row = rows[0];
    if (!row) return { error: new KernelError("invalid_token", "The device code is not valid.") };
    const state: DeviceCodeState = {
      status: row.status,
      expiresAt: row.expires_at,
      pollIntervalSeconds: row.poll_interval_seconds,
      lastPolledAt: row.last_polled_at,
    };
    const outcome = decidePoll(state, now);
    if (outcome.update) {
      const u = outcome.update;
      await client.query(
        `UPDATE device_codes SET last_polled_at = $2, status = coalesce($3, status),
                poll_interval_seconds = coalesce($4, poll_interval_seconds)
          WHERE device_code_hash = $1`,
        [
          hash,
          u.lastPolledAt,
          "status" in u ? u.status : null,
          "pollIntervalSeconds" in u ? u.pollIntervalSeconds : null,
        ],
      );
    }
    switch (outcome.kind) {
      case "issue": {
        const pair = await issueUserTokens(
          client,
          {
            type: "user",
            id: row.user_id as string,
            email: row.email,
            orgId: null,
            scopes: row.granted_scopes ?? [],
          },
          now,
        );
        return { pair };
      }
      case "authorization_pending":
        return {
          error: pollError("authorization_pending", "The user has not approved yet; poll again.", state),
        };
      case "slow_down":
        return {
          error: pollError("slow_down", "Polling too fast; wait longer between polls.", {
            pollIntervalSeconds: outcome.update.pollIntervalSeconds,
          }),
        };
      case "expired_token":
        return { error: new KernelError("expired_token", "The device code has expired; start again.") };
      case "access_denied":
        return { error: new KernelError("access_denied", "The user denied this request.") };
      case "invalid_token":
        return { error: new KernelError("invalid_token", "The device code was already used.") };
    }
  });
  if ("error" in result) throw result.error;
  return result.pair;
}

const pollError = (
  code: "authorization_pending" | "slow_down",
  message: string,
  s: { pollIntervalSeconds: number },
) =>
  new KernelError(code, message, {
    retryable: true,
    extra: { poll_interval_seconds: s.pollIntervalSeconds },
  });

export type DeviceDecision = "approve" | "deny";

/**
 * A signed-in user decides a pending request. The device gets the requested
 * scopes that the approving token also holds, so approving can never widen
 * what the approver could do. Repeating the same decision answers the same.
 */
export async function approveDevice(
  pool: Pool,
  principal: Principal,
  userCode: string,
  decision: DeviceDecision,
  now: Date,
): Promise<{ user_code: string; status: "approved" | "denied"; client_name: string }> {
  if (principal.type !== "user" || principal.email === null) {
    throw new KernelError("forbidden", "Only a user can approve a device.");
  }
  const status = decision === "approve" ? "approved" : "denied";
  const result = await withTransaction(pool, async (client) => {
    // The newest row with this code: older ones may hold it in a final state.
    const { rows } = await client.query<{
      device_code_hash: string;
      status: DeviceStatus;
      expires_at: Date;
      client_name: string;
      scopes: string[];
      user_id: string | null;
    }>(
      `SELECT device_code_hash, status, expires_at, client_name, scopes, user_id
         FROM device_codes WHERE user_code = $1 ORDER BY created_at DESC LIMIT 1 FOR UPDATE`,
      [userCode],
    );
    const row = rows[0];
    if (!row) return { error: new KernelError("not_found", "No device request has this code.") };
    if (row.status !== "pending") {
      // The same user repeating the same decision (a retry) gets the same answer.
      const outcomeOfSame = status === "approved" ? ["approved", "consumed"] : ["denied"];
      if (row.user_id === principal.id && outcomeOfSame.includes(row.status)) {
        return { clientName: row.client_name };
      }
      if (row.status === "expired") return { error: expired() };
      return { error: new KernelError("conflict", "This device request was already decided.") };
    }
    if (row.expires_at <= now) {
      await client.query("UPDATE device_codes SET status = 'expired' WHERE device_code_hash = $1", [
        row.device_code_hash,
      ]);
      return { error: expired() };
    }
    const granted = row.scopes.filter((s) => isScope(s) && principal.tokenScopes.has(s));
    await client.query(
      `UPDATE device_codes SET status = $2, decided_at = $3, user_id = $4, email = $5, granted_scopes = $6
        WHERE device_code_hash = $1`,
      [
        row.device_code_hash,
        status,
        now,
        principal.id,
        principal.email,
        status === "approved" ? granted : null,
      ],
    );
    return { clientName: row.client_name };
  });
  if ("error" in result) throw result.error;
  return { user_code: userCode, status, client_name: result.clientName };
}

const expired = () => new KernelError("expired_token", "The device request has expired; start again.");
