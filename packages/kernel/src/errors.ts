/**
 * One error class with a stable string code. Every layer throws these; the HTTP
 * layer maps `code` to a status through {@link httpStatusFor}, the only place
 * where that mapping lives.
 */

/** HTTP status for every stable error code the kernel and its domains use. */
const STATUS_BY_CODE = {
  invalid_argument: 400,
  invalid_cursor: 400,
  invalid_expected_version: 400,
  invalid_update: 400,
  invalid_hostname: 400,
  invalid_proxy_protocol: 400,
  unsupported_grant_type: 400,
  invalid_secrets_format: 400,
  secrets_too_large: 400,
  // Release create (spec platform.md §2.2, §5).
  invalid_image_digest: 400,
  invalid_manifest: 400,
  invalid_manifest_hash: 400,
  // Device-flow polling answers (spec §4.5, RFC 8628 §3.5).
  authorization_pending: 400,
  slow_down: 400,
  expired_token: 400,
  access_denied: 400,
  agent_version_unsupported: 400,
  unauthorized: 401,
  invalid_authorization: 401,
  invalid_token: 401,
  token_expired: 401,
  token_revoked: 401,
  invalid_enrollment_token: 401,
  forbidden: 403,
  insufficient_scope: 403,
  org_access_denied: 403,
  not_found: 404,
  conflict: 409,
  version_conflict: 409,
  idempotency_key_reuse: 409,
  hostname_in_use: 409,
  port_in_use: 409,
  ipv4_not_enabled: 409,
  ipv4_required_routes: 409,
  ipv4_pool_exhausted: 409,
  quota_exceeded: 409,
  last_owner_required: 409,
  volume_in_use: 409,
  volume_home_node_mismatch: 409,
  snapshot_in_progress: 409,
  no_capacity: 409,
  wireguard_key_in_use: 409,
  // Exec grants need a ready instance (spec platform.md §7.8).
  instance_not_running: 409,
  precondition_failed: 412,
  // Delta CI planner (spec delta-ci.md §6.2, §6.3): an invalid pipeline.yml is the user's to fix.
  config_error: 422,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
  // Delta CI planner: git could not be read; retried by the orchestrator (spec delta-ci.md §6.3).
  planner_failure: 503,
  projection_timeout: 504,
} as const;

export type ErrorCode = keyof typeof STATUS_BY_CODE;

export interface FieldProblem {
  field: string;
  code?: string;
  message: string;
}

export interface KernelErrorOptions {
  cause?: unknown;
  details?: FieldProblem[];
  retryable?: boolean;
  /** Extra machine-readable members for the problem document (e.g. `quota`). */
  extra?: Record<string, unknown>;
}

export class KernelError extends Error {
  readonly code: ErrorCode;
  readonly details: FieldProblem[] | undefined;
  readonly retryable: boolean;
  readonly extra: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: KernelErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "KernelError";
    this.code = code;
    this.details = options.details;
    this.retryable =
      options.retryable ?? (code === "version_conflict" || code === "unavailable" || code === "rate_limited");
    this.extra = options.extra;
  }
}

/** Thrown by a reconciler to stop retries of its key. */
export class TerminalError extends KernelError {
  constructor(message: string, options: KernelErrorOptions = {}) {
    super("internal", message, { ...options, retryable: false });
    this.name = "TerminalError";
  }
}

export function httpStatusFor(code: ErrorCode): number {
  return STATUS_BY_CODE[code];
}

export function isKernelError(err: unknown, code?: ErrorCode): err is KernelError {
  return err instanceof KernelError && (code === undefined || err.code === code);
}
