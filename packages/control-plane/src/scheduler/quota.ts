// Quotas rechecked at placement (spec platform.md §6.4): however many
// instances a group wants, the org gets only what its max_instances,
// max_total_memory_bytes and max_total_cpu_request leave. Usage comes from the
// pass's in-memory cluster, which includes what this pass already placed.
import type { Queryable } from "@plfm/kernel";
import { readQuota } from "../tenancy/quotas.ts";
import type { InstanceRow } from "./facts.ts";
import { DEFAULT_SETTINGS } from "./placement/types.ts";

export interface QuotaLimits {
  max_instances: number | null;
  max_total_memory_bytes: number | null;
  max_total_cpu_request: number | null;
}

export async function readInstanceQuotas(db: Queryable, orgId: string): Promise<QuotaLimits> {
  const [n, mem, cpu] = await Promise.all([
    readQuota(db, orgId, "max_instances"),
    readQuota(db, orgId, "max_total_memory_bytes"),
    readQuota(db, orgId, "max_total_cpu_request"),
  ]);
  return { max_instances: n.limit, max_total_memory_bytes: mem.limit, max_total_cpu_request: cpu.limit };
}

export interface QuotaVerdict {
  allowed: number;
  /** The first dimension that cut the count, with its numbers (for the block's detail). */
  limitedBy?: { dimension: keyof QuotaLimits; limit: number; usage: number; per_instance: number };
}

/** How many of `wanted` new instances (each `memory`, `cpu`) the org's limits leave room for. Pure. */
export function quotaAllows(
  limits: QuotaLimits,
  orgInstances: readonly Pick<InstanceRow, "memory_limit_bytes" | "cpu_request">[],
  wanted: number,
  memory: number,
  cpu: number,
): QuotaVerdict {
  const overhead = DEFAULT_SETTINGS.overhead_bytes;
  const usage = {
    max_instances: orgInstances.length,
    max_total_memory_bytes: orgInstances.reduce((s, i) => s + i.memory_limit_bytes + overhead, 0),
    max_total_cpu_request: orgInstances.reduce((s, i) => s + i.cpu_request, 0),
  };
  const per = { max_instances: 1, max_total_memory_bytes: memory + overhead, max_total_cpu_request: cpu };
  let verdict: QuotaVerdict = { allowed: wanted };
  for (const dimension of ["max_instances", "max_total_memory_bytes", "max_total_cpu_request"] as const) {
    const limit = limits[dimension];
    if (limit === null || per[dimension] <= 0) continue;
    // A small epsilon keeps fractional CPU sums (0.1 + 0.2) from losing a whole instance.
    const room = Math.max(0, Math.floor((limit - usage[dimension]) / per[dimension] + 1e-9));
    if (room < verdict.allowed) {
      verdict = {
        allowed: room,
        limitedBy: { dimension, limit, usage: usage[dimension], per_instance: per[dimension] },
      };
    }
  }
  return verdict;
}
