// PUT …/quotas/{dimension}: an operator sets one limit of an org (event
// `org.quota_set` on the org aggregate).
import { evolvePending, handleCommand, wakeReaders } from "@plfm/kernel";
import { type CommandEnv, type CommandOutcome, clockOf, metaOf } from "./commands.ts";
import { decideSetQuota, evolveOrg, initialOrg, ORG } from "./org.ts";
import { QUOTA_DEFAULTS, QUOTA_USAGE, type QuotaDimension, type QuotaView } from "./quotas.ts";

const orgAggregate = { aggregateType: ORG, initial: initialOrg, evolve: evolveOrg };

/** Sets (or, with `limit_value: null`, lifts) one quota; retried on a concurrent org change. */
export async function setQuota(
  env: CommandEnv,
  orgId: string,
  dimension: QuotaDimension,
  body: { limit_value: number | null; expected_version?: number | undefined },
): Promise<CommandOutcome<QuotaView>> {
  // Usage is a fact for the answer, not for the decision: an operator may set
  // a limit below current usage (new commands are then refused).
  const usage = await QUOTA_USAGE[dimension](env.pool, orgId);
  const meta = metaOf(env);
  const r = await handleCommand(env.pool, {
    aggregate: orgAggregate,
    aggregateId: orgId,
    meta,
    clock: clockOf(env),
    ...(env.idempotency ? { idempotency: env.idempotency } : {}),
    decide: (state, version) => {
      const events = decideSetQuota(state, { orgId, dimension, ...body });
      const next = evolvePending(orgAggregate, state, version, events, meta, env.now);
      const set = next.quotas[dimension];
      const response: QuotaView = {
        dimension,
        limit: set ? set.limit : QUOTA_DEFAULTS[dimension],
        current_usage: usage,
        resource_version: set?.version ?? 0,
      };
      return { events, response };
    },
  });
  wakeReaders(env.pool);
  return { response: r.response, position: r.position, replayed: r.replayed };
}
