// Reads of the apps context's views (eventually consistent; writes wait for
// them before answering, so a client sees its own writes).
import { KernelError, type Queryable } from "@plfm/kernel";
import type { AppView } from "./app.ts";
import type { EnvView, ProcessScale, ScaleView } from "./env.ts";

export const APP_COLUMNS =
  "app_id, org_id, project_id, name, description, resource_version, created_at, updated_at";
export const ENV_COLUMNS = "env_id, org_id, app_id, name, resource_version, created_at, updated_at";

type Row<V> = Omit<V, "created_at" | "updated_at"> & { created_at: Date; updated_at: Date };
export type AppRow = Row<AppView>;
export type EnvRow = Row<EnvView>;

export function toView<V>(r: Row<V>): V {
  return { ...r, created_at: r.created_at.toISOString(), updated_at: r.updated_at.toISOString() } as V;
}

/** Path of an env: all three ids must agree, or it is 404. */
export interface EnvPath {
  org: string;
  app: string;
  env: string;
}

/** A live app of the org, else 404. */
export async function readApp(db: Queryable, orgId: string, appId: string): Promise<AppView> {
  const { rows } = await db.query<AppRow>(
    `SELECT ${APP_COLUMNS} FROM apps WHERE app_id = $1 AND org_id = $2 AND NOT is_deleted`,
    [appId, orgId],
  );
  const row = rows[0];
  if (!row) throw new KernelError("not_found", "No such app.");
  return toView<AppView>(row);
}

/** A live env of that app in that org, else 404. */
export async function readEnv(db: Queryable, p: EnvPath): Promise<EnvView> {
  const { rows } = await db.query<EnvRow>(
    `SELECT ${ENV_COLUMNS} FROM envs WHERE env_id = $1 AND app_id = $2 AND org_id = $3 AND NOT is_deleted`,
    [p.env, p.app, p.org],
  );
  const row = rows[0];
  if (!row) throw new KernelError("not_found", "No such env.");
  return toView<EnvView>(row);
}

/** The scale of a live env of that app in that org, else 404. */
export async function readScale(db: Queryable, p: EnvPath): Promise<ScaleView> {
  const { rows } = await db.query<{ processes: ProcessScale[]; updated_at: Date; resource_version: number }>(
    `SELECT processes, updated_at, resource_version FROM env_scale
      WHERE env_id = $1 AND app_id = $2 AND org_id = $3 AND NOT is_deleted`,
    [p.env, p.app, p.org],
  );
  const row = rows[0];
  if (!row) throw new KernelError("not_found", "No such env.");
  return { env_id: p.env, ...row, updated_at: row.updated_at.toISOString() };
}
