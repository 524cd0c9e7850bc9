// The exec_sessions view (spec §3.2): one row per session, folded from its
// three events. Apply is idempotent: the insert ignores a known id and the
// updates only move forward (guarded by the aggregate sequence).
import type { Projection } from "@plfm/kernel";

export const execSessionsProjection: Projection = {
  name: "exec_sessions",
  tables: ["exec_sessions"],
  eventTypes: ["exec_session.granted", "exec_session.connected", "exec_session.ended"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as Record<string, unknown>;
      if (e.eventType === "exec_session.granted") {
        await client.query(
          `INSERT INTO exec_sessions (exec_session_id, org_id, app_id, env_id, instance_id, node_id,
                  requested_command, tty, status, expires_at, connect_timeout_seconds, granted_by,
                  granted_at, resource_version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'granted', $9, $10, $11, $12, $13)
           ON CONFLICT (exec_session_id) DO NOTHING`,
          [
            e.aggregateId,
            p.org_id,
            p.app_id,
            p.env_id,
            p.instance_id,
            p.node_id,
            JSON.stringify(p.requested_command ?? []),
            p.tty === true,
            p.expires_at,
            p.connect_timeout_seconds,
            e.actorId,
            e.occurredAt,
            e.aggregateSeq,
          ],
        );
      } else if (e.eventType === "exec_session.connected") {
        await client.query(
          `UPDATE exec_sessions SET status = 'connected', connected_at = $2, resource_version = $3
            WHERE exec_session_id = $1 AND resource_version < $3`,
          [e.aggregateId, p.connected_at, e.aggregateSeq],
        );
      } else {
        await client.query(
          `UPDATE exec_sessions SET status = 'ended', ended_at = $2, exit_code = $3, end_reason = $4,
                  resource_version = $5
            WHERE exec_session_id = $1 AND resource_version < $5`,
          [e.aggregateId, p.ended_at, p.exit_code ?? null, p.end_reason ?? null, e.aggregateSeq],
        );
      }
    }
  },
};

export const execProjections = [execSessionsProjection];
