// The secrets commands' I/O (spec platform.md §9): PUT replaces an env's
// secrets, PATCH merges into the current version (decrypted in memory). Each
// write is one transaction: lock the env's bundle claim, load the bundle,
// decide (bundle.ts), append, seal the new version into secret_material and
// record the audit row. Plaintext lives only in buffers zeroed on the way out.
import {
  type CanonicalSecrets,
  mergeSecrets,
  parseSecretsFile,
  type SecretValueInput,
} from "@plfm/contracts";
import {
  append,
  evolvePending,
  findReplay,
  type IdempotencyRequest,
  KernelError,
  loadAggregate,
  newId,
  type Pool,
  type PoolClient,
  type Position,
  wakeReaders,
  withTransaction,
} from "@plfm/kernel";
import type { Principal } from "../auth/principal.ts";
import { type AuditLogger, recordAudit } from "../tenancy/index.ts";
import {
  bundleAggregate,
  checkExpectedVersion,
  decideSetVersion,
  SECRET_BUNDLE,
  SECRETS_FORMAT,
  type SecretsView,
  secretsView,
} from "./bundle.ts";
import type { Keyring } from "./keyring.ts";
import { mappingSecretsErrors } from "./problems.ts";
import { type EnvRef, requireEnv } from "./reads.ts";
import { insertVersion, openVersion } from "./store.ts";

/** What every secrets command needs besides its input. */
export interface SecretsCommandEnv {
  pool: Pool;
  keyring: Keyring;
  principal: Principal;
  idempotency: IdempotencyRequest | null;
  requestId: string;
  now: Date;
  /** Where the audit line goes. */
  log: AuditLogger;
}

export interface SecretsOutcome {
  response: SecretsView;
  position: Position | null;
  replayed: boolean;
}

/** A write: the complete new content (PUT), or changes to the current content (PATCH; null deletes). */
export type SecretsChange =
  | { kind: "put"; secrets: CanonicalSecrets }
  | { kind: "patch"; changes: Readonly<Record<string, SecretValueInput | null>> };

/**
 * Writes a new version of the env's secrets; the first write creates the
 * bundle. `expectedVersion` (optional for secrets, spec §4.2) is the bundle's
 * resource_version, 0 before the first write.
 * @throws KernelError `not_found`, `version_conflict`, `invalid_secrets_format`,
 *   `secrets_too_large`, `unavailable` (the current version's master key is missing)
 */
export async function writeSecrets(
  env: SecretsCommandEnv,
  ref: EnvRef,
  change: SecretsChange,
  expectedVersion: number | undefined,
): Promise<SecretsOutcome> {
  const { pool, idempotency } = env;
  try {
    if (idempotency) {
      const replay = await findReplay(pool, idempotency);
      if (replay)
        return { response: replay.response as SecretsView, position: replay.position, replayed: true };
    }
    await requireEnv(pool, ref);
    return await mappingSecretsErrors(async () => {
      const result = await withTransaction(pool, (client) =>
        writeIn(client, env, ref, change, expectedVersion),
      );
      wakeReaders(pool);
      return result;
    });
  } finally {
    if (change.kind === "put") wipe(change.secrets);
  }
}

async function writeIn(
  client: PoolClient,
  env: SecretsCommandEnv,
  ref: EnvRef,
  change: SecretsChange,
  expectedVersion: number | undefined,
): Promise<SecretsOutcome> {
  const { principal, idempotency, now } = env;
  const bundleId = await lockBundle(client, ref);
  const { state, version } = await loadAggregate(client, bundleAggregate, bundleId);
  // Checked before decrypting: a stale PATCH need not open the current version.
  checkExpectedVersion(state, expectedVersion);
  const secrets =
    change.kind === "put"
      ? change.secrets
      : await merged(client, env.keyring, state.currentVersionId, change);
  try {
    const versionId = newId("sv");
    const events = decideSetVersion(state, {
      ...ref,
      bundleId,
      versionId,
      dataHash: secrets.dataHash,
      at: now,
      expectedVersion,
    });
    const meta = { actorType: principal.type, actorId: principal.id, requestId: env.requestId };
    const next = evolvePending(bundleAggregate, state, version, events, meta, now);
    const response = secretsView(next, secrets.keys) as SecretsView;
    const r = await append(client, {
      meta,
      events,
      expected: [{ aggregateType: SECRET_BUNDLE, aggregateId: bundleId, seq: version }],
      ...(idempotency ? { idempotency: { ...idempotency, response } } : {}),
      clock: { now: () => now },
    });
    // A concurrent twin with the same Idempotency-Key committed first: answer its response.
    if (r.replayed) return { response: r.response as SecretsView, position: r.position, replayed: true };
    await insertVersion(
      client,
      env.keyring,
      {
        ...ref,
        versionId,
        bundleId,
        dataHash: secrets.dataHash,
        format: SECRETS_FORMAT,
        keys: secrets.keys,
        createdAt: now,
        createdBy: { type: principal.type, id: principal.id },
      },
      secrets.canonical,
    );
    await recordAudit(
      client,
      {
        org_id: ref.orgId,
        actor_type: principal.type,
        actor_id: principal.id,
        action: "secret_bundle.version_set",
        target_type: SECRET_BUNDLE,
        target_id: bundleId,
        request_id: env.requestId,
        // Names and hashes only: the audit row and line never carry a value.
        details: {
          operation: change.kind,
          app_id: ref.appId,
          env_id: ref.envId,
          version_id: versionId,
          data_hash: secrets.dataHash,
          key_count: secrets.keys.length,
        },
      },
      env.log,
    );
    return { response, position: r.position, replayed: false };
  } finally {
    if (change.kind === "patch") wipe(secrets);
  }
}

/**
 * The env's bundle id, claimed on its first write, with the claim row locked
 * until COMMIT: an env's writers queue here, so a PATCH merges onto the
 * version it read, and two first writes cannot create two bundles (the loser
 * waits on the winner's insert, then finds its row).
 */
async function lockBundle(client: PoolClient, ref: EnvRef): Promise<string> {
  await client.query(
    `INSERT INTO secret_bundle_claims (env_id, bundle_id, org_id, app_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT (env_id) DO NOTHING`,
    [ref.envId, newId("sb"), ref.orgId, ref.appId],
  );
  const { rows } = await client.query<{ bundle_id: string; org_id: string }>(
    "SELECT bundle_id, org_id FROM secret_bundle_claims WHERE env_id = $1 FOR UPDATE",
    [ref.envId],
  );
  const row = rows[0];
  // Env ids are global, so a claim from another org means a forged or reused id.
  if (!row || row.org_id !== ref.orgId) throw new KernelError("not_found", "No such env.");
  return row.bundle_id;
}

/** PATCH: the current version decrypted in memory, with the changes applied (no version yet = empty). */
async function merged(
  client: PoolClient,
  keyring: Keyring,
  currentVersionId: string | null,
  change: Extract<SecretsChange, { kind: "patch" }>,
): Promise<CanonicalSecrets> {
  let current = new Map<string, Buffer>();
  if (currentVersionId !== null) {
    const opened = await openVersion(client, keyring, currentVersionId);
    if (!opened) throw new KernelError("internal", `secret version ${currentVersionId} has no material`);
    try {
      current = parseSecretsFile(opened.canonical);
    } finally {
      opened.canonical.fill(0);
    }
  }
  try {
    return mergeSecrets(current, change.changes);
  } finally {
    for (const v of current.values()) v.fill(0);
  }
}

function wipe(secrets: CanonicalSecrets): void {
  secrets.canonical.fill(0);
  for (const v of secrets.values.values()) v.fill(0);
}
