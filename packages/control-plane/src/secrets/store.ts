// secret_versions and secret_material (spec platform.md §9.2): writing a
// version's sealed bytes, and opening them again in memory. Plaintext exists
// only in buffers the callers zero; nothing here logs.
import type { Queryable } from "@plfm/kernel";
import { decryptSecrets, encryptSecrets, type SecretMaterial, type SecretsAadFields } from "./crypto.ts";
import type { Keyring } from "./keyring.ts";

/** A secret_versions row (the metadata of one immutable version). */
export interface VersionRecord {
  versionId: string;
  bundleId: string;
  orgId: string;
  appId: string;
  envId: string;
  dataHash: string;
  format: string;
  keys: readonly string[];
  createdAt: Date;
  createdBy: { type: string; id: string };
}

const aadOf = (r: VersionRecord): SecretsAadFields => ({
  orgId: r.orgId,
  envId: r.envId,
  bundleId: r.bundleId,
  versionId: r.versionId,
  dataHash: r.dataHash,
});

/**
 * Seals `canonical` under a fresh data key and writes the material and the
 * version row on `client` (the command's transaction). The material is keyed
 * by the version id: the two are one-to-one.
 */
export async function insertVersion(
  client: Queryable,
  keyring: Keyring,
  record: VersionRecord,
  canonical: Uint8Array,
): Promise<void> {
  const m = encryptSecrets(canonical, aadOf(record), keyring);
  await client.query(
    `INSERT INTO secret_material (material_id, cipher, nonce, ciphertext, master_key_id,
                                  wrapped_data_key, wrapped_data_key_nonce, plaintext_size_bytes, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      record.versionId,
      m.cipher,
      m.nonce,
      m.ciphertext,
      m.master_key_id,
      m.wrapped_data_key,
      m.wrapped_data_key_nonce,
      m.plaintext_size_bytes,
      record.createdAt,
    ],
  );
  await client.query(
    `INSERT INTO secret_versions (version_id, bundle_id, org_id, app_id, env_id, data_hash, format, keys,
                                  material_id, created_at, created_by_type, created_by_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $1, $9, $10, $11)`,
    [
      record.versionId,
      record.bundleId,
      record.orgId,
      record.appId,
      record.envId,
      record.dataHash,
      record.format,
      [...record.keys],
      record.createdAt,
      record.createdBy.type,
      record.createdBy.id,
    ],
  );
}

interface VersionRow {
  version_id: string;
  bundle_id: string;
  org_id: string;
  app_id: string;
  env_id: string;
  data_hash: string;
  format: string;
  keys: string[];
  created_at: Date;
  created_by_type: string;
  created_by_id: string;
  cipher: string;
  nonce: Buffer;
  ciphertext: Buffer;
  master_key_id: string;
  wrapped_data_key: Buffer;
  wrapped_data_key_nonce: Buffer;
  plaintext_size_bytes: number;
}

/** A version's metadata and its sealed material, or null. */
export async function loadVersion(
  db: Queryable,
  versionId: string,
): Promise<{ record: VersionRecord; material: SecretMaterial } | null> {
  const { rows } = await db.query<VersionRow>(
    `SELECT v.version_id, v.bundle_id, v.org_id, v.app_id, v.env_id, v.data_hash, v.format, v.keys,
            v.created_at, v.created_by_type, v.created_by_id,
            m.cipher, m.nonce, m.ciphertext, m.master_key_id, m.wrapped_data_key,
            m.wrapped_data_key_nonce, m.plaintext_size_bytes
       FROM secret_versions v JOIN secret_material m ON m.material_id = v.material_id
      WHERE v.version_id = $1`,
    [versionId],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    record: {
      versionId: r.version_id,
      bundleId: r.bundle_id,
      orgId: r.org_id,
      appId: r.app_id,
      envId: r.env_id,
      dataHash: r.data_hash,
      format: r.format,
      keys: r.keys,
      createdAt: r.created_at,
      createdBy: { type: r.created_by_type, id: r.created_by_id },
    },
    material: {
      cipher: r.cipher as SecretMaterial["cipher"],
      nonce: r.nonce,
      ciphertext: r.ciphertext,
      master_key_id: r.master_key_id,
      wrapped_data_key: r.wrapped_data_key,
      wrapped_data_key_nonce: r.wrapped_data_key_nonce,
      plaintext_size_bytes: r.plaintext_size_bytes,
    },
  };
}

/**
 * A version's canonical bytes, decrypted in memory (the caller zeroes them),
 * or null when there is no such version.
 * @throws SecretsCryptoError `master_key_unavailable` or `integrity_failed`
 */
export async function openVersion(
  db: Queryable,
  keyring: Keyring,
  versionId: string,
): Promise<{ record: VersionRecord; canonical: Buffer } | null> {
  const found = await loadVersion(db, versionId);
  if (!found) return null;
  return { record: found.record, canonical: decryptSecrets(found.material, aadOf(found.record), keyring) };
}

/** What the node-facing material endpoint returns (spec §4.4 `GET /nodes/{node}/secrets/{version}`). */
export interface SecretMaterialText {
  version_id: string;
  format: string;
  data_hash: string;
  /** The canonical `platform_env_v1` file. */
  data: string;
  /** For the delivery audit row (§9.3); not part of the response body. */
  scope: { org_id: string; app_id: string; env_id: string; bundle_id: string };
}

/**
 * Decrypts a version to its canonical text for delivery to a node. The
 * caller must first have checked `mayNodeReadVersion` (node-access.ts) and must write
 * the delivery audit row (node-routes.ts does both).
 * @throws SecretsCryptoError `master_key_unavailable` or `integrity_failed`
 */
export async function readSecretMaterial(
  db: Queryable,
  keyring: Keyring,
  versionId: string,
): Promise<SecretMaterialText | null> {
  const opened = await openVersion(db, keyring, versionId);
  if (!opened) return null;
  const { record, canonical } = opened;
  try {
    return {
      version_id: record.versionId,
      format: record.format,
      data_hash: record.dataHash,
      data: canonical.toString("utf8"),
      scope: { org_id: record.orgId, app_id: record.appId, env_id: record.envId, bundle_id: record.bundleId },
    };
  } finally {
    canonical.fill(0);
  }
}
