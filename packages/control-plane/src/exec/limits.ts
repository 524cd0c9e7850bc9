// The exec bounds of spec platform.md §4.5 and §7.8, in one place. Servers use
// the defaults; tests pass smaller minimums through ServerConfig.execLimits
// (never read from the environment) so the connect-timeout and session-timeout
// paths run in a second rather than the spec's 10 s and 60 s floors.

export interface ExecLimits {
  /** Lower bound of connect_timeout_seconds (spec: 10). */
  minConnectTimeoutSeconds: number;
  /** Lower bound of session_ttl_seconds (spec: 60). */
  minSessionTtlSeconds: number;
  /** Live sessions per env (spec: 10). */
  perEnv: number;
  /** Live sessions per instance (spec: 2). */
  perInstance: number;
  /** Grants per org in any hour (spec: 100). */
  perOrgHour: number;
}

export const DEFAULT_EXEC_LIMITS: ExecLimits = {
  minConnectTimeoutSeconds: 10,
  minSessionTtlSeconds: 60,
  perEnv: 10,
  perInstance: 2,
  perOrgHour: 100,
};

export const TOKEN_TTL = { min: 30, max: 300, default: 60 } as const;
export const SESSION_TTL = { max: 86_400, default: 3600 } as const;
export const CONNECT_TIMEOUT = { max: 120, default: 30 } as const;

export function execLimits(overrides?: Partial<ExecLimits>): ExecLimits {
  return { ...DEFAULT_EXEC_LIMITS, ...overrides };
}
