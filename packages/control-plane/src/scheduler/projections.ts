// The scheduler's projection: env_scheduling, the current block of each
// (env, process type), from the edge-triggered env.scheduling_blocked /
// env.scheduling_unblocked events (spec platform.md §3.4, §6.2).
import type { Projection } from "@plfm/kernel";

type P = Record<string, unknown>;

/**
 * env_scheduling: one row per (env, process type) ever blocked. An unblock
 * keeps the row (blocked = false, since = when it cleared) rather than
 * deleting it, so the env_seq guard still sees it on replay. Idempotent: a
 * row changes only for an env event with a higher aggregate_seq than the one
 * it last applied, so replays and rebuilds land on the same rows.
 */
export const envSchedulingProjection: Projection = {
  name: "env_scheduling",
  tables: ["env_scheduling"],
  eventTypes: ["env.scheduling_blocked", "env.scheduling_unblocked"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as P;
      const blocked = e.eventType === "env.scheduling_blocked";
      await client.query(
        `INSERT INTO env_scheduling (env_id, process_type, org_id, blocked, reason, detail, since, env_seq)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (env_id, process_type) DO UPDATE
           SET blocked = EXCLUDED.blocked, reason = EXCLUDED.reason, detail = EXCLUDED.detail,
               since = EXCLUDED.since, env_seq = EXCLUDED.env_seq
         WHERE env_scheduling.env_seq < EXCLUDED.env_seq`,
        [
          e.aggregateId,
          p.process_type,
          e.orgId ?? p.org_id,
          blocked,
          blocked ? (p.reason ?? null) : null,
          blocked ? (p.detail ?? null) : null,
          e.occurredAt,
          e.aggregateSeq,
        ],
      );
    }
  },
};
