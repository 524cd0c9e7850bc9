// The group spec hash (spec platform.md §6.3) and the WorkloadSpec an agent runs
// (§7.2), both pure functions of the release row, the process type, the env's
// secret version and the group's mounts. Instances are never changed in place
// (§6.3): anything that moves the hash makes the scheduler roll new instances.
import { createHash } from "node:crypto";
import { canonicalJson, effectiveProcess, type NormalisedManifest } from "@plfm/contracts";
import { KernelError } from "@plfm/kernel";

/** The release view's row (apps/migrations/0002), as the scheduler reads it. */
export interface ReleaseFacts {
  release_id: string;
  image_ref: string;
  index_or_manifest_digest: string;
  resolved_digests: ReadonlyArray<{ os: string; arch: string; digest: string }>;
  /** The normalised manifest the release embeds (release.ts stores validateManifest's result). */
  manifest: NormalisedManifest;
  manifest_hash: string;
  /** The image's entrypoint + cmd, used by processes without their own command. */
  command: readonly string[];
}

/** One volume attachment of the group, joined with its volume. */
export interface MountFact {
  volume_id: string;
  mount_path: string;
  read_only: boolean;
  filesystem: "ext4";
  device_hint?: string;
}

/** What the group's hash and every instance's spec share. */
export interface GroupSpecInput {
  release: ReleaseFacts;
  process_type: string;
  /** The env's current secret version (every process gets it, §6.3), or null when none exists. */
  secrets_version_id: string | null;
  mounts: readonly MountFact[];
}

export interface WorkloadSpecInput extends GroupSpecInput {
  org_id: string;
  app_id: string;
  env_id: string;
  instance: { instance_id: string; overlay_ipv6: string; arch: string };
}

export interface WorkloadSpec {
  spec_version: "v1";
  org_id: string;
  app_id: string;
  env_id: string;
  process_type: string;
  instance_id: string;
  generation: 1;
  release_id: string;
  image: {
    ref: string;
    digest: string;
    index_digest?: string;
    resolved_digest: string;
    os: "linux";
    arch: string;
  };
  manifest_hash: string;
  command: string[];
  resources: {
    cpu_request: number;
    memory_limit_bytes: number;
    ephemeral_disk_bytes: number;
    vcpu_count: number;
    cpu_weight: number;
  };
  network: {
    overlay_ipv6: string;
    gateway_ipv6: "fe80::1";
    mtu: 1420;
    dns: string[];
    ports: { name: string; port: number; protocol: "tcp" }[];
  };
  health?: {
    type: "tcp" | "http";
    port: number;
    path?: string;
    interval_seconds: number;
    timeout_seconds: number;
    grace_period_seconds: number;
    success_threshold: number;
    failure_threshold: number;
  };
  secrets: {
    required: boolean;
    secrets_version_id?: string;
    mount_path: "/run/secrets/platform.env";
    mode: 256;
    uid: 0;
    gid: 0;
  };
  mounts: {
    volume_id: string;
    mount_path: string;
    read_only: boolean;
    filesystem: "ext4";
    device_hint?: string;
  }[];
  lifecycle: {
    termination_grace_seconds: 10;
    restart_policy: "always" | "on-failure" | "never";
    max_retries: number;
    backoff_seconds: number;
  };
  env_vars: Record<string, string>;
  workdir?: string;
  user?: string;
  prestart: string[];
  prestart_timeout_seconds: number;
  spec_hash: string;
}

/** Fixed values of §7.2. */
export const WORKLOAD_DEFAULTS = {
  gatewayIpv6: "fe80::1",
  mtu: 1420,
  secretsMountPath: "/run/secrets/platform.env",
  secretsMode: 0o400,
  terminationGraceSeconds: 10,
  maxRetries: 3,
} as const;

function processOf(input: GroupSpecInput) {
  const eff = effectiveProcess(input.release.manifest, input.process_type);
  const proc = input.release.manifest.processes[input.process_type];
  if (eff === undefined || proc === undefined) {
    throw new KernelError(
      "not_found",
      `Release ${input.release.release_id} has no process type '${input.process_type}'.`,
    );
  }
  return { eff, proc, command: eff.command ?? [...input.release.command] };
}

/** By volume, then path: attachment order must not move the hash (§6.3). */
function sortedMounts(mounts: readonly MountFact[]): MountFact[] {
  const key = (m: MountFact) => [m.volume_id, m.mount_path] as const;
  return [...mounts].sort((a, b) => {
    const [av, ap] = key(a);
    const [bv, bp] = key(b);
    if (av !== bv) return av < bv ? -1 : 1;
    return ap < bp ? -1 : ap > bp ? 1 : 0;
  });
}

/**
 * sha256 hex of the canonical JSON of exactly the §6.3 fields. The merged vars
 * are an object, so canonical JSON orders them by key; `secrets_version_id` is
 * the string "none" when the env has no secrets, so adding a first version rolls
 * the group like any rotation does (compliance 41).
 */
export function groupSpecHash(input: GroupSpecInput): string {
  const { eff, proc, command } = processOf(input);
  const hashed = {
    release_id: input.release.release_id,
    manifest_hash: input.release.manifest_hash,
    command,
    workdir: eff.workdir ?? null,
    env_vars: eff.vars,
    resources: {
      cpu_request: eff.cpu_request,
      memory_limit_bytes: eff.memory_limit_bytes,
      ephemeral_disk_bytes: eff.ephemeral_disk_bytes,
    },
    health: proc.health ?? null,
    mounts: sortedMounts(input.mounts).map((m) => ({
      volume_id: m.volume_id,
      mount_path: m.mount_path,
      read_only: m.read_only,
      filesystem: m.filesystem,
    })),
    secrets_version_id: input.secrets_version_id ?? "none",
  };
  return createHash("sha256").update(canonicalJson(hashed), "utf8").digest("hex");
}

/**
 * The image for one node: a release with per-platform digests came from an
 * index, so `index_or_manifest_digest` is the index and the node pulls its
 * arch's digest; without them the digest names a single-platform manifest.
 */
function imageFor(release: ReleaseFacts, arch: string): WorkloadSpec["image"] {
  if (release.resolved_digests.length === 0) {
    const d = release.index_or_manifest_digest;
    return { ref: release.image_ref, digest: d, resolved_digest: d, os: "linux", arch };
  }
  const hit = release.resolved_digests.find((r) => r.os === "linux" && r.arch === arch);
  if (hit === undefined) {
    // Placement only picks nodes whose arch the release resolves (§6.2), so this is a caller bug.
    throw new KernelError("invalid_argument", `Release ${release.release_id} has no image for arch ${arch}.`);
  }
  return {
    ref: release.image_ref,
    digest: hit.digest,
    index_digest: release.index_or_manifest_digest,
    resolved_digest: hit.digest,
    os: "linux",
    arch,
  };
}

/** §7.2: vcpu_count = max(1, ceil(cpu)), cpu_weight = clamp(1, 10000, round(cpu × 100)). */
export function cpuShape(cpu: number): { vcpu_count: number; cpu_weight: number } {
  return {
    vcpu_count: Math.max(1, Math.ceil(cpu)),
    cpu_weight: Math.min(10_000, Math.max(1, Math.round(cpu * 100))),
  };
}

/** The §7.2 WorkloadSpec of one new instance (generation is always 1 in v1). */
export function workloadSpec(input: WorkloadSpecInput): WorkloadSpec {
  const { eff, proc, command } = processOf(input);
  const spec: WorkloadSpec = {
    spec_version: "v1",
    org_id: input.org_id,
    app_id: input.app_id,
    env_id: input.env_id,
    process_type: input.process_type,
    instance_id: input.instance.instance_id,
    generation: 1,
    release_id: input.release.release_id,
    image: imageFor(input.release, input.instance.arch),
    manifest_hash: input.release.manifest_hash,
    command,
    resources: {
      cpu_request: eff.cpu_request,
      memory_limit_bytes: eff.memory_limit_bytes,
      ephemeral_disk_bytes: eff.ephemeral_disk_bytes,
      ...cpuShape(eff.cpu_request),
    },
    network: {
      overlay_ipv6: input.instance.overlay_ipv6,
      gateway_ipv6: WORKLOAD_DEFAULTS.gatewayIpv6,
      mtu: WORKLOAD_DEFAULTS.mtu,
      dns: [],
      ports: proc.ports.map((p) => ({ name: p.name, port: p.internal, protocol: "tcp" as const })),
    },
    secrets: {
      required: proc.secrets.required,
      ...(input.secrets_version_id !== null ? { secrets_version_id: input.secrets_version_id } : {}),
      mount_path: WORKLOAD_DEFAULTS.secretsMountPath,
      mode: WORKLOAD_DEFAULTS.secretsMode,
      uid: 0,
      gid: 0,
    },
    mounts: sortedMounts(input.mounts).map((m) => ({
      volume_id: m.volume_id,
      mount_path: m.mount_path,
      read_only: m.read_only,
      filesystem: m.filesystem,
      ...(m.device_hint !== undefined ? { device_hint: m.device_hint } : {}),
    })),
    lifecycle: {
      termination_grace_seconds: WORKLOAD_DEFAULTS.terminationGraceSeconds,
      restart_policy: proc.restart.policy,
      // The manifest keeps max_retries only for on-failure; the agent reads the §7.2 default otherwise.
      max_retries: proc.restart.max_retries ?? WORKLOAD_DEFAULTS.maxRetries,
      backoff_seconds: proc.restart.backoff_seconds,
    },
    env_vars: eff.vars,
    prestart: eff.prestart,
    prestart_timeout_seconds: eff.prestart_timeout_seconds,
    spec_hash: groupSpecHash(input),
  };
  if (proc.health !== undefined) spec.health = { ...proc.health };
  if (eff.workdir !== undefined) spec.workdir = eff.workdir;
  if (eff.user !== undefined) spec.user = eff.user;
  return spec;
}
