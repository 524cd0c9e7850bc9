// Org quotas (spec platform.md §6.4): the dimensions with their v1 defaults,
// how each one's usage is counted, and `checkQuota`, which commands call
// before they add to a dimension.
import { KernelError, type Queryable } from "@plfm/kernel";
// guards.ts rather than the apps index, which imports this module back.
import { appUsage, envUsage } from "../apps/guards.ts";
import { hostnameUsage, ipv4Usage, publicPortUsage, routeUsage } from "../networking/usage.ts";
import { cpuUsage, instanceUsage, memoryUsage } from "../scheduler/usage.ts";
import { STORAGE_USAGE } from "../storage/usage.ts";

const GiB = 1024 ** 3;

/**
 * The v1 default limits, by dimension (spec platform.md §6.4). `null` means
 * unlimited unless an operator sets a limit (PUT …/quotas/{dimension}, event
 * `org.quota_set`). The only place defaults are written down.
 */
export const QUOTA_DEFAULTS = {
  max_apps: 20,
  max_envs: 100,
  max_instances: 50,
  max_total_memory_bytes: 64 * GiB,
  max_total_cpu_request: null,
  max_routes: 50,
  max_public_ports: null,
  max_hostnames: null,
  max_ipv4_allocations: 5,
  max_volumes: 20,
  max_total_volume_bytes: 500 * GiB,
  max_volume_attachments: 50,
  max_snapshots_per_volume: null,
  max_restore_jobs: null,
} as const satisfies Record<string, number | null>;

export type QuotaDimension = keyof typeof QUOTA_DEFAULTS;
export const QUOTA_DIMENSIONS = Object.keys(QUOTA_DEFAULTS) as QuotaDimension[];

export function isQuotaDimension(s: string): s is QuotaDimension {
  return Object.hasOwn(QUOTA_DEFAULTS, s);
}

/**
 * Counts an org's current usage of one dimension. `within` narrows
 * per-resource dimensions (the volume id for max_snapshots_per_volume).
 * Counters run inside the caller's transaction when given its client.
 */
export type UsageCounter = (db: Queryable, orgId: string, within?: string) => Promise<number>;

// Usage is counted by the context that owns the resource, preferably over
// command-side rows its commands write in their transactions (e.g. their
// name_claims), so a count under checkQuota's lock is exact. Instances are
// counted over their view: only the scheduler adds them, and it rechecks at
// placement (scheduler/quota.ts).

/** How usage is counted, by dimension (§6.4: instances not stopped, non-deleted volumes/routes/…). */
export const QUOTA_USAGE: Readonly<Record<QuotaDimension, UsageCounter>> = {
  max_apps: appUsage,
  max_envs: envUsage,
  max_instances: instanceUsage,
  max_total_memory_bytes: memoryUsage,
  max_total_cpu_request: cpuUsage,
  max_routes: routeUsage,
  max_public_ports: publicPortUsage,
  max_hostnames: hostnameUsage,
  max_ipv4_allocations: ipv4Usage,
  max_volumes: STORAGE_USAGE.max_volumes,
  max_total_volume_bytes: STORAGE_USAGE.max_total_volume_bytes,
  max_volume_attachments: STORAGE_USAGE.max_volume_attachments,
  max_snapshots_per_volume: STORAGE_USAGE.max_snapshots_per_volume,
  max_restore_jobs: STORAGE_USAGE.max_restore_jobs,
};

/** One row of GET …/quotas. `resource_version` counts the sets (0 = the default). */
export interface QuotaView {
  dimension: QuotaDimension;
  limit: number | null;
  current_usage: number;
  resource_version: number;
}

interface QuotaRow {
  dimension: string;
  limit_value: string | null;
  resource_version: number;
}

async function setQuotas(db: Queryable, orgId: string, dimension?: QuotaDimension): Promise<QuotaRow[]> {
  const { rows } = await db.query<QuotaRow>(
    `SELECT dimension, limit_value, resource_version FROM org_quotas
      WHERE org_id = $1 AND ($2::text IS NULL OR dimension = $2)`,
    [orgId, dimension ?? null],
  );
  return rows;
}

const limitOf = (row: QuotaRow | undefined, dimension: QuotaDimension): number | null =>
  row === undefined ? QUOTA_DEFAULTS[dimension] : row.limit_value === null ? null : Number(row.limit_value);

/** Every dimension of the org with its limit (set or default) and current usage. */
export async function listQuotas(db: Queryable, orgId: string): Promise<QuotaView[]> {
  const set = new Map((await setQuotas(db, orgId)).map((r) => [r.dimension, r]));
  return Promise.all(QUOTA_DIMENSIONS.map((d) => quotaView(db, orgId, d, set.get(d))));
}

/** One dimension of the org, as GET …/quotas shows it. */
export async function readQuota(db: Queryable, orgId: string, dimension: QuotaDimension): Promise<QuotaView> {
  const [row] = await setQuotas(db, orgId, dimension);
  return quotaView(db, orgId, dimension, row);
}

async function quotaView(
  db: Queryable,
  orgId: string,
  dimension: QuotaDimension,
  row: QuotaRow | undefined,
): Promise<QuotaView> {
  return {
    dimension,
    limit: limitOf(row, dimension),
    current_usage: await QUOTA_USAGE[dimension](db, orgId),
    resource_version: row?.resource_version ?? 0,
  };
}

// pg_advisory_xact_lock(int, int) class for quota checks ('plq1'); keys are
// (org, dimension), apart from the membership lock and the kernel's leases.
const QUOTA_LOCK_CLASS = 0x706c7131;

/**
 * Refuses a command that would take `dimension` past the org's limit:
 * 409 `quota_exceeded` with `quota {dimension, limit, current_usage,
 * requested_delta}`. Call it with the command's transaction client, before
 * the append: it takes a transaction lock on (org, dimension), so two
 * concurrent commands cannot both take the last unit, as long as the usage
 * counter reads rows those commands write in their transactions. The limit
 * comes from the org_quotas view (a just-set quota may lag by a moment).
 * Dimensions whose owning context does not exist yet count 0 usage.
 */
export async function checkQuota(
  db: Queryable,
  orgId: string,
  dimension: QuotaDimension,
  delta: number,
  within?: string,
): Promise<void> {
  if (delta <= 0) return;
  await db.query("SELECT pg_advisory_xact_lock($1::int, hashtext($2))", [
    QUOTA_LOCK_CLASS,
    `${orgId}:${dimension}`,
  ]);
  const [row] = await setQuotas(db, orgId, dimension);
  const limit = limitOf(row, dimension);
  if (limit === null) return;
  const usage = await QUOTA_USAGE[dimension](db, orgId, within);
  if (usage + delta <= limit) return;
  throw new KernelError(
    "quota_exceeded",
    `This needs ${delta} more of ${dimension}: ${usage} of ${limit} are in use.`,
    { extra: { quota: { dimension, limit, current_usage: usage, requested_delta: delta } } },
  );
}
