// Reads behind `GET E/why`: env_scheduling, scheduler_status and the env's
// recent events per process type (spec platform.md §4.4).
import {
  EVENT_COLUMNS,
  type EventRow,
  eventFromRow,
  type Queryable,
  toWire,
  type WireEvent,
} from "@plfm/kernel";
import type { SchedulerStatusRow, SchedulingRow } from "./why.ts";

/** At most this many events per process type. */
export const WHY_EVENT_LIMIT = 20;

export async function schedulingRows(db: Queryable, envId: string): Promise<SchedulingRow[]> {
  const { rows } = await db.query<Omit<SchedulingRow, "since"> & { since: Date }>(
    "SELECT process_type, blocked, reason, detail, since FROM env_scheduling WHERE env_id = $1",
    [envId],
  );
  return rows.map((r) => ({ ...r, since: r.since.toISOString() }));
}

export async function schedulerStatusRows(db: Queryable, envId: string): Promise<SchedulerStatusRow[]> {
  const { rows } = await db.query<
    Omit<SchedulerStatusRow, "last_reconcile_at"> & { last_reconcile_at: Date }
  >(
    `SELECT process_type, last_reconcile_at, last_error, blocked_reason, blocked_detail, blocked_facts
       FROM scheduler_status WHERE env_id = $1`,
    [envId],
  );
  return rows.map((r) => ({
    ...r,
    last_reconcile_at: r.last_reconcile_at.toISOString(),
    blocked_facts: Array.isArray(r.blocked_facts) ? r.blocked_facts : null,
  }));
}

// The events that explain one process type: the env's desired release,
// scale and scheduling events naming it, its deploys (by the deploys view's
// process_types), the env's secret versions (every process gets them, §6.3),
// and its instances' events (by the instances view's process_type). Newest
// first here so LIMIT keeps the latest; the caller reverses. The scan walks
// the org's events backwards (events_org_order_idx) and stops at the limit.
const EVENTS_SQL = `
SELECT ${EVENT_COLUMNS} FROM events e
 WHERE e.org_id = $1 AND e.env_id = $2 AND (
       (e.event_type IN ('env.desired_release_set', 'env.scheduling_blocked', 'env.scheduling_unblocked')
         AND e.payload->>'process_type' = $3)
    OR (e.event_type = 'env.scale_set'
         AND e.payload->'scales' @> jsonb_build_array(jsonb_build_object('process_type', $3::text)))
    OR e.event_type = 'secret_bundle.version_set'
    OR (e.aggregate_type = 'deploy'
         AND EXISTS (SELECT 1 FROM deploys d WHERE d.deploy_id = e.aggregate_id AND d.process_types ? $3))
    OR (e.aggregate_type = 'instance'
         AND EXISTS (SELECT 1 FROM instances i WHERE i.instance_id = e.aggregate_id AND i.process_type = $3)))
 ORDER BY e.tx_id DESC, e.event_id DESC
 LIMIT $4`;

/** The process type's latest events (at most {@link WHY_EVENT_LIMIT}), oldest first, as wire envelopes. */
export async function processEvents(
  db: Queryable,
  orgId: string,
  envId: string,
  processType: string,
): Promise<WireEvent[]> {
  const { rows } = await db.query<EventRow>(EVENTS_SQL, [orgId, envId, processType, WHY_EVENT_LIMIT]);
  return rows.map(eventFromRow).reverse().map(toWire);
}
