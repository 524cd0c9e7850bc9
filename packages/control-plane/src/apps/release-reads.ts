// Reads of the releases and deploys views (eventually consistent; writes
// wait for them before answering, so a client sees its own writes).
import { KernelError, type Queryable } from "@plfm/kernel";
import type { DeployView } from "./deploy.ts";
import type { ReleaseView } from "./release.ts";

const RELEASE_COLUMNS = `release_id, org_id, app_id, image_ref, index_or_manifest_digest, resolved_digests,
  manifest_schema_version, manifest, manifest_hash, manifest_size_bytes, command, created_at`;
const DEPLOY_COLUMNS = `deploy_id, org_id, app_id, env_id, kind, release_id, process_types, strategy, status,
  message, failed_reason, initiated_at, resource_version, created_at, updated_at`;

const iso = (d: Date) => d.toISOString();
type ReleaseRow = Omit<ReleaseView, "created_at"> & { created_at: Date };
type DeployRow = Omit<DeployView, "created_at" | "updated_at" | "initiated_at"> & {
  created_at: Date;
  updated_at: Date;
  initiated_at: Date;
};
const releaseOf = (r: ReleaseRow): ReleaseView => ({ ...r, created_at: iso(r.created_at) });
const deployOf = (r: DeployRow): DeployView => ({
  ...r,
  initiated_at: iso(r.initiated_at),
  created_at: iso(r.created_at),
  updated_at: iso(r.updated_at),
});

/** A release of that app in that org, else 404. */
export async function readRelease(
  db: Queryable,
  p: { org: string; app: string; release: string },
): Promise<ReleaseView> {
  const { rows } = await db.query<ReleaseRow>(
    `SELECT ${RELEASE_COLUMNS} FROM releases WHERE release_id = $1 AND app_id = $2 AND org_id = $3`,
    [p.release, p.app, p.org],
  );
  const row = rows[0];
  if (!row) throw new KernelError("not_found", "No such release.");
  return releaseOf(row);
}

/** One page of an app's releases by id, `limit + 1` rows (for toPage). */
export async function listReleases(
  db: Queryable,
  p: { org: string; app: string },
  after: string,
  limit: number,
): Promise<ReleaseView[]> {
  const { rows } = await db.query<ReleaseRow>(
    `SELECT ${RELEASE_COLUMNS} FROM releases
      WHERE app_id = $1 AND org_id = $2 AND release_id > $3 ORDER BY release_id LIMIT $4`,
    [p.app, p.org, after, limit + 1],
  );
  return rows.map(releaseOf);
}

/** A deploy of that env in that app and org, else 404. */
export async function readDeploy(
  db: Queryable,
  p: { org: string; app: string; env: string; deploy: string },
): Promise<DeployView> {
  const { rows } = await db.query<DeployRow>(
    `SELECT ${DEPLOY_COLUMNS} FROM deploys WHERE deploy_id = $1 AND env_id = $2 AND app_id = $3 AND org_id = $4`,
    [p.deploy, p.env, p.app, p.org],
  );
  const row = rows[0];
  if (!row) throw new KernelError("not_found", "No such deploy.");
  return deployOf(row);
}

/** One page of an env's deploys by id, `limit + 1` rows (for toPage). */
export async function listDeploys(
  db: Queryable,
  p: { org: string; app: string; env: string },
  after: string,
  limit: number,
): Promise<DeployView[]> {
  const { rows } = await db.query<DeployRow>(
    `SELECT ${DEPLOY_COLUMNS} FROM deploys
      WHERE env_id = $1 AND app_id = $2 AND org_id = $3 AND deploy_id > $4 ORDER BY deploy_id LIMIT $5`,
    [p.env, p.app, p.org, after, limit + 1],
  );
  return rows.map(deployOf);
}

/** The env's latest deploy for its status (§4.6), or null. */
export async function lastDeploy(
  db: Queryable,
  envId: string,
): Promise<{ deploy_id: string; status: string; message: string | null } | null> {
  const { rows } = await db.query<{ deploy_id: string; status: string; message: string | null }>(
    "SELECT deploy_id, status, message FROM deploys WHERE env_id = $1 ORDER BY created_at DESC, deploy_id DESC LIMIT 1",
    [envId],
  );
  return rows[0] ?? null;
}

/** Desired release id and the release's scaling.min per process type of the env (for its status). */
export async function desiredReleases(
  db: Queryable,
  envId: string,
): Promise<{ process_type: string; release_id: string; min: number }[]> {
  const { rows } = await db.query<{ process_type: string; release_id: string; min: number | null }>(
    `SELECT d.process_type, d.release_id,
            (r.manifest->'processes'->d.process_type->'scaling'->>'min')::int AS min
       FROM env_desired_releases d LEFT JOIN releases r ON r.release_id = d.release_id
      WHERE d.env_id = $1 ORDER BY d.process_type COLLATE "C"`,
    [envId],
  );
  return rows.map((r) => ({ process_type: r.process_type, release_id: r.release_id, min: r.min ?? 1 }));
}
