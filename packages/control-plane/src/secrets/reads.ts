// Reads of the secrets context: the env an `E/secrets` URL names, and the
// bundle's metadata view. Nothing here touches secret_material.
import { KernelError, type Queryable } from "@plfm/kernel";
import type { SecretsView } from "./bundle.ts";

/** The env an `E/…` URL names. */
export interface EnvRef {
  orgId: string;
  appId: string;
  envId: string;
}

/**
 * 404 unless the env exists, is live and belongs to the URL's org and app.
 * The `envs` view belongs to the apps context; when its table is absent (the
 * apps context not mounted) every env is taken to exist.
 * TODO(apps): drop the to_regclass check once the apps context is always mounted.
 */
export async function requireEnv(db: Queryable, ref: EnvRef): Promise<void> {
  const { rows } = await db.query<{ present: boolean }>("SELECT to_regclass('envs') IS NOT NULL AS present");
  if (rows[0]?.present) {
    const { rows: found } = await db.query(
      "SELECT 1 FROM envs WHERE env_id = $1 AND app_id = $2 AND org_id = $3 AND NOT is_deleted",
      [ref.envId, ref.appId, ref.orgId],
    );
    if (found.length === 0) throw new KernelError("not_found", "No such env.");
  }
}

interface ViewRow {
  bundle_id: string;
  org_id: string;
  app_id: string;
  env_id: string;
  format: string;
  current_version_id: string;
  current_data_hash: string;
  keys: string[];
  resource_version: number;
  created_at: Date;
  updated_at: Date;
}

/**
 * The env's secrets metadata (names, never values), from the secret_bundles
 * view and the current version's key names.
 * @throws KernelError `not_found` before the first PUT or PATCH
 */
export async function readSecretsView(db: Queryable, ref: EnvRef): Promise<SecretsView> {
  const { rows } = await db.query<ViewRow>(
    `SELECT b.bundle_id, b.org_id, b.app_id, b.env_id, b.format, b.current_version_id,
            b.current_data_hash, v.keys, b.resource_version, b.created_at, b.updated_at
       FROM secret_bundles b JOIN secret_versions v ON v.version_id = b.current_version_id
      WHERE b.env_id = $1 AND b.app_id = $2 AND b.org_id = $3 AND NOT b.is_deleted`,
    [ref.envId, ref.appId, ref.orgId],
  );
  const r = rows[0];
  if (!r) throw new KernelError("not_found", "This env has no secrets yet; PUT them first.");
  return {
    env_id: r.env_id,
    bundle_id: r.bundle_id,
    org_id: r.org_id,
    app_id: r.app_id,
    format: r.format,
    current_version_id: r.current_version_id,
    current_data_hash: r.current_data_hash,
    keys: r.keys,
    resource_version: r.resource_version,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}
