// The normalised manifest: what `plfm.toml` means once every default is applied.
//
// Releases embed this shape (spec §0 "releases embed the normalised manifest") and
// `manifest_hash` is computed over it, so a field that is optional here is one
// whose absence has a meaning of its own (e.g. no `command` = the image's
// entrypoint + cmd), never one with a default.

/** The only schema version v1 accepts. */
export const MANIFEST_SCHEMA_VERSION = "v1";

/**
 * Largest accepted manifest, in UTF-8 bytes. The spec sets no limit; 64 KiB is
 * far above any real manifest and bounds the work (and event payload) per release.
 */
export const MANIFEST_MAX_BYTES = 64 * 1024;

/** Defaults from spec §5, in one place so code, tests and docs agree. */
export const MANIFEST_DEFAULTS = {
  pullPolicy: "if_not_present",
  prestartTimeoutSeconds: 30,
  restartPolicy: "always",
  restartMaxRetries: 3,
  restartBackoffSeconds: 2,
  cpu: 1.0,
  disk: "4Gi",
  scalingMin: 1,
  healthType: "tcp",
  healthIntervalSeconds: 10,
  healthTimeoutSeconds: 2,
  healthGracePeriodSeconds: 10,
  healthSuccessThreshold: 1,
  healthFailureThreshold: 3,
  portProtocol: "tcp",
  mountReadOnly: false,
  secretsRequired: false,
  volumeFilesystem: "ext4",
  volumeBackupEnabled: true,
} as const;

export type PullPolicy = "if_not_present" | "always";
export type RestartPolicy = "always" | "on-failure" | "never";
export type HealthType = "tcp" | "http";

/** A normalised, valid v1 manifest. Keys are plain data; safe to JSON-serialise. */
export interface NormalisedManifest {
  schema_version: "v1";
  /** Empty when the file has no `[app]` (the CLI then takes the app from flags or context). */
  app: { name?: string; description?: string };
  image: { ref: string; pull_policy: PullPolicy };
  env: NormalisedEnv;
  /** Keyed by process type name. */
  processes: Record<string, NormalisedProcess>;
  /** Sorted by name (names are unique, so the order carries no meaning). */
  volumes: NormalisedVolume[];
}

export interface NormalisedEnv {
  vars: Record<string, string>;
  workdir?: string;
  user?: string;
  prestart: string[];
  prestart_timeout_seconds: number;
}

export interface NormalisedProcess {
  /** Absent: the release's `command` (image entrypoint + cmd) is used. */
  command?: string[];
  /** Absent: env.workdir, else the image's. */
  workdir?: string;
  /** Absent: env.user, else the image's. */
  user?: string;
  /** This process's own vars only; see effectiveProcess() for the merge. */
  vars: Record<string, string>;
  /** This process's own steps only; env prestart runs first. */
  prestart: string[];
  /** Resolved: the process's own value, else env.prestart_timeout_seconds. */
  prestart_timeout_seconds: number;
  restart: NormalisedRestart;
  resources: NormalisedResources;
  scaling: { min: number; max: number };
  /** In declared order: the first port is the default health-check port. */
  ports: NormalisedPort[];
  /** Absent only for a process without ports and without `[health]`: "ready once running". */
  health?: NormalisedHealth;
  /** In declared order. */
  mounts: NormalisedMount[];
  secrets: { required: boolean };
}

export interface NormalisedRestart {
  policy: RestartPolicy;
  /** Present only for policy "on-failure". */
  max_retries?: number;
  backoff_seconds: number;
}

export interface NormalisedResources {
  /** Canonical quantity: `<n>Gi` when a whole number of GiB, else `<n>Mi`; no leading zeros. */
  memory: string;
  cpu: number;
  /** Canonical `<n>Gi`. */
  disk: string;
}

export interface NormalisedPort {
  name: string;
  internal: number;
  protocol: "tcp";
}

export interface NormalisedHealth {
  type: HealthType;
  /** The resolved internal port number (the file may name the port instead). */
  port: number;
  /** Present only for type "http". */
  path?: string;
  interval_seconds: number;
  timeout_seconds: number;
  grace_period_seconds: number;
  success_threshold: number;
  failure_threshold: number;
}

export interface NormalisedMount {
  volume: string;
  /** Normalised absolute path (no `//`, `.` or trailing slash). */
  path: string;
  read_only: boolean;
}

export interface NormalisedVolume {
  name: string;
  /** Canonical `<n>Gi`. */
  size: string;
  filesystem: "ext4";
  backup_enabled: boolean;
}
