// The audit record of sensitive operations (spec platform.md §4.5 "Audited"):
// a row in audit_log, written in the command's own transaction so it exists
// exactly when the change does, and a platform log line with `audit: true`.
import { KernelError, type Queryable } from "@plfm/kernel";

/** One audited operation. `details` holds names and ids only, never secret values. */
export interface AuditEntry {
  org_id: string | null;
  actor_type: string;
  actor_id: string;
  /** Usually the event type, e.g. `org_member.role_updated`. */
  action: string;
  target_type: string;
  target_id: string;
  request_id: string;
  details?: Record<string, unknown>;
}

/** The slice of a pino logger the audit line needs (fastify's `app.log` fits). */
export interface AuditLogger {
  info(obj: object, msg?: string): void;
}

// Keys that would carry secret material. A caller putting one in `details` is
// a bug: fail loudly rather than write the value to a table and a log.
const FORBIDDEN_DETAIL_KEYS = new Set([
  "secret",
  "client_secret",
  "token",
  "access_token",
  "refresh_token",
  "password",
  "data",
  "values",
  "material",
  "ciphertext",
]);

/**
 * Records an audited operation on `client`, which must be the command's
 * transaction, and logs it. The line is written when the row is inserted:
 * only a failing COMMIT after it could leave a line without its row.
 * @throws KernelError `internal` when `details` names a secret-bearing key.
 */
export async function recordAudit(client: Queryable, entry: AuditEntry, logger: AuditLogger): Promise<void> {
  const details = entry.details ?? {};
  for (const k of Object.keys(details)) {
    if (FORBIDDEN_DETAIL_KEYS.has(k.toLowerCase())) {
      throw new KernelError("internal", `audit details may not carry '${k}'`);
    }
  }
  await client.query(
    `INSERT INTO audit_log (org_id, actor_type, actor_id, action, target_type, target_id, request_id, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      entry.org_id,
      entry.actor_type,
      entry.actor_id,
      entry.action,
      entry.target_type,
      entry.target_id,
      entry.request_id,
      JSON.stringify(details),
    ],
  );
  logger.info({ audit: true, ...entry, details }, `audit: ${entry.action}`);
}
