// The secret_bundle aggregate (spec platform.md §3.4, §9): one per env, whose
// events say only which version is current and its data_hash. Key names,
// values and ciphertext never enter an event: they live in secret_versions
// and secret_material, written in the same transaction.
import { KernelError, type NewEvent, type StoredEvent } from "@plfm/kernel";

export const SECRET_BUNDLE = "secret_bundle";
/** The only secrets format of v1. */
export const SECRETS_FORMAT = "platform_env_v1";

export interface BundleState {
  exists: boolean;
  bundleId: string;
  orgId: string;
  appId: string;
  envId: string;
  format: string;
  currentVersionId: string | null;
  currentDataHash: string | null;
  createdAt: Date | null;
  updatedAt: Date | null;
  /** Versions set so far: the view's resource_version and what `expected_version` is compared with. */
  version: number;
}

export const initialBundle = (): BundleState => ({
  exists: false,
  bundleId: "",
  orgId: "",
  appId: "",
  envId: "",
  format: SECRETS_FORMAT,
  currentVersionId: null,
  currentDataHash: null,
  createdAt: null,
  updatedAt: null,
  version: 0,
});

export function evolveBundle(state: BundleState, e: StoredEvent): BundleState {
  const p = e.payload as Record<string, unknown>;
  switch (e.eventType) {
    case "secret_bundle.created":
      return {
        ...initialBundle(),
        exists: true,
        bundleId: e.aggregateId,
        orgId: String(p.org_id),
        appId: String(p.app_id),
        envId: String(p.env_id),
        format: String(p.format),
        createdAt: e.occurredAt,
        updatedAt: e.occurredAt,
      };
    case "secret_bundle.version_set":
      return {
        ...state,
        format: String(p.format),
        currentVersionId: String(p.version_id),
        currentDataHash: String(p.data_hash),
        updatedAt: e.occurredAt,
        version: state.version + 1,
      };
    default:
      return state;
  }
}

export const bundleAggregate = {
  aggregateType: SECRET_BUNDLE,
  initial: initialBundle,
  evolve: evolveBundle,
};

/**
 * Passes when `expected` is absent or the bundle's version.
 * @throws KernelError `version_conflict`
 */
export function checkExpectedVersion(state: BundleState, expected: number | undefined): void {
  if (expected !== undefined && expected !== state.version) {
    throw new KernelError(
      "version_conflict",
      `The secrets are at version ${state.version}, not ${expected}; reload and retry.`,
    );
  }
}

/** What a write sets: a new version of the env's bundle. */
export interface SetVersionInput {
  bundleId: string;
  orgId: string;
  appId: string;
  envId: string;
  versionId: string;
  dataHash: string;
  at: Date;
  /** The bundle version the client last saw (0 = no secrets yet); absent = no check (spec §4.2). */
  expectedVersion?: number | undefined;
}

/**
 * A PUT or PATCH: `secret_bundle.created` the first time, then always
 * `secret_bundle.version_set` — also when the content equals the current
 * version's (same data_hash): every write is a version (spec §9.1).
 * @throws KernelError `version_conflict` when `expectedVersion` is stale
 */
export function decideSetVersion(state: BundleState, input: SetVersionInput): NewEvent[] {
  checkExpectedVersion(state, input.expectedVersion);
  const at = input.at.toISOString();
  const envelope = {
    aggregateType: SECRET_BUNDLE,
    aggregateId: input.bundleId,
    orgId: input.orgId,
    appId: input.appId,
    envId: input.envId,
  };
  const ids = { bundle_id: input.bundleId, org_id: input.orgId, env_id: input.envId };
  const events: NewEvent[] = [];
  if (!state.exists) {
    events.push({
      ...envelope,
      eventType: "secret_bundle.created",
      payload: { ...ids, app_id: input.appId, format: SECRETS_FORMAT, created_at: at },
    });
  }
  events.push({
    ...envelope,
    eventType: "secret_bundle.version_set",
    payload: {
      ...ids,
      version_id: input.versionId,
      format: SECRETS_FORMAT,
      data_hash: input.dataHash,
      updated_at: at,
    },
  });
  return events;
}

/** GET E/secrets and every write's answer: metadata only. */
export interface SecretsView {
  env_id: string;
  bundle_id: string;
  org_id: string;
  app_id: string;
  format: string;
  current_version_id: string;
  current_data_hash: string;
  /** Key names of the current version, bytewise sorted. */
  keys: string[];
  resource_version: number;
  created_at: string;
  updated_at: string;
}

/** The view of a bundle with a current version (null before the first version). */
export function secretsView(state: BundleState, keys: readonly string[]): SecretsView | null {
  if (!state.exists || state.currentVersionId === null || state.currentDataHash === null) return null;
  return {
    env_id: state.envId,
    bundle_id: state.bundleId,
    org_id: state.orgId,
    app_id: state.appId,
    format: state.format,
    current_version_id: state.currentVersionId,
    current_data_hash: state.currentDataHash,
    keys: [...keys],
    resource_version: state.version,
    created_at: (state.createdAt as Date).toISOString(),
    updated_at: (state.updatedAt as Date).toISOString(),
  };
}
