import type { BoundedContext } from "../context.ts";
import { tenancyProjections } from "./projections.ts";
import { registerTenancyRoutes } from "./routes.ts";

// For other contexts: the audit record, quota checks, and name claims.
export { type AuditEntry, type AuditLogger, recordAudit } from "./audit.ts";
export { CLAIM_SCOPE, claimName, releaseNames } from "./claims.ts";
export { checkQuota, QUOTA_DEFAULTS, QUOTA_USAGE, type QuotaDimension } from "./quotas.ts";

/** Orgs, members, projects, service principals, quotas. */
export const tenancy: BoundedContext = {
  name: "tenancy",
  migrations: new URL("./migrations", import.meta.url).pathname,
  projections: tenancyProjections,
  registerRoutes: registerTenancyRoutes,
};
