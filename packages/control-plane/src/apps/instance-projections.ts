// The `instances` view and its reads. Each apply is idempotent: the insert
// happens once, and updates are guarded by the aggregate sequence last
// applied (resource_version), so a rebuild from zero matches incremental
// application.
import { KernelError, type Projection, type Queryable } from "@plfm/kernel";

type P = Record<string, unknown>;
const opt = (v: unknown) => (v === undefined ? null : v);

/** instances: one row per instance.allocated; drains and node reports update it. */
export const instancesProjection: Projection = {
  name: "instances",
  tables: ["instances"],
  eventTypes: ["instance.allocated", "instance.desired_state_changed", "instance.status_changed"],
  async apply(client, events) {
    for (const e of events) {
      const p = e.payload as P;
      if (e.eventType === "instance.allocated") {
        await client.query(
          `INSERT INTO instances (instance_id, org_id, app_id, env_id, process_type, node_id, release_id, deploy_id,
                                  secrets_version_id, overlay_ipv6, resources_snapshot, spec_hash, desired_state,
                                  status, generation, resource_version, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'running', 'allocated', $13, $14, $15, $15)
           ON CONFLICT (instance_id) DO NOTHING`,
          [
            e.aggregateId,
            p.org_id,
            p.app_id,
            p.env_id,
            p.process_type,
            p.node_id,
            p.release_id,
            opt(p.deploy_id),
            opt(p.secrets_version_id),
            p.overlay_ipv6,
            JSON.stringify(p.resources_snapshot ?? {}),
            p.spec_hash,
            opt(p.generation),
            e.aggregateSeq,
            e.occurredAt,
          ],
        );
      } else if (e.eventType === "instance.desired_state_changed") {
        await client.query(
          `UPDATE instances SET desired_state = $2, drain_grace_seconds = $3, drain_reason = $4,
                                resource_version = $5, updated_at = $6
            WHERE instance_id = $1 AND resource_version < $5`,
          [
            e.aggregateId,
            p.desired_state,
            p.drain_grace_seconds ?? 10,
            opt(p.reason),
            e.aggregateSeq,
            e.occurredAt,
          ],
        );
      } else {
        // exit_code and reasons describe this report only; boot and runtime ids persist until replaced.
        await client.query(
          `UPDATE instances SET status = $2, boot_id = COALESCE($3, boot_id), runtime_id = COALESCE($4, runtime_id),
                                exit_code = $5, reason_code = $6, reason_detail = $7, reported_at = $8,
                                resource_version = $9, updated_at = $10
            WHERE instance_id = $1 AND resource_version < $9`,
          [
            e.aggregateId,
            p.status,
            opt(p.boot_id),
            opt(p.runtime_id),
            opt(p.exit_code),
            opt(p.reason_code),
            opt(p.reason_detail),
            p.reported_at,
            e.aggregateSeq,
            e.occurredAt,
          ],
        );
      }
    }
  },
};

/** An instance as the API shows it (§2.2). */
export interface InstanceView {
  instance_id: string;
  org_id: string;
  app_id: string;
  env_id: string;
  process_type: string;
  node_id: string;
  release_id: string;
  deploy_id: string | null;
  secrets_version_id: string | null;
  overlay_ipv6: string;
  resources_snapshot: Record<string, unknown>;
  spec_hash: string;
  desired_state: string;
  status: string;
  generation: number | null;
  boot_id: string | null;
  runtime_id: string | null;
  exit_code: number | null;
  reason_code: string | null;
  reason_detail: string | null;
  reported_at: string | null;
  resource_version: number;
  created_at: string;
  updated_at: string;
}

const COLUMNS = `instance_id, org_id, app_id, env_id, process_type, node_id, release_id, deploy_id, secrets_version_id,
  overlay_ipv6, resources_snapshot, spec_hash, desired_state, status, generation, boot_id, runtime_id, exit_code,
  reason_code, reason_detail, reported_at, resource_version, created_at, updated_at`;

type Row = Omit<InstanceView, "created_at" | "updated_at" | "reported_at"> & {
  created_at: Date;
  updated_at: Date;
  reported_at: Date | null;
};
const viewOf = (r: Row): InstanceView => ({
  ...r,
  reported_at: r.reported_at ? r.reported_at.toISOString() : null,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
});

export interface InstancePath {
  org: string;
  app: string;
  env: string;
}

/** An instance of that env (all path ids must agree), else 404. */
export async function readInstance(
  db: Queryable,
  p: InstancePath & { instance: string },
): Promise<InstanceView> {
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM instances WHERE instance_id = $1 AND env_id = $2 AND app_id = $3 AND org_id = $4`,
    [p.instance, p.env, p.app, p.org],
  );
  const row = rows[0];
  if (!row) throw new KernelError("not_found", "No such instance.");
  return viewOf(row);
}

/** One page of an env's instances by id, `limit + 1` rows (for toPage), optionally filtered. */
export async function listInstances(
  db: Queryable,
  p: InstancePath,
  filter: { process_type?: string; status?: string },
  after: string,
  limit: number,
): Promise<InstanceView[]> {
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM instances
      WHERE env_id = $1 AND app_id = $2 AND org_id = $3 AND instance_id > $4
        AND ($5::text IS NULL OR process_type = $5) AND ($6::text IS NULL OR status = $6)
      ORDER BY instance_id LIMIT $7`,
    [p.env, p.app, p.org, after, filter.process_type ?? null, filter.status ?? null, limit + 1],
  );
  return rows.map(viewOf);
}
