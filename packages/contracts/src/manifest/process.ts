// One `[processes.<name>]` table: read, check and normalise.

import { MANIFEST_ERROR_CODES as E, type PathSegments } from "./errors.ts";
import { MAX_SECONDS, readCommon, readQuantity } from "./fields.ts";
import { type ReadMount, readMounts } from "./mounts.ts";
import { readHealth, readPorts } from "./ports-health.ts";
import { own, type Reader } from "./read.ts";
import {
  MANIFEST_DEFAULTS as D,
  type NormalisedProcess,
  type NormalisedResources,
  type NormalisedRestart,
  type RestartPolicy,
} from "./types.ts";
import { GIB_QUANTITY, MEMORY, MIN_GIB_BYTES, MIN_MEMORY_BYTES } from "./values.ts";

const PROCESS_KEYS = [
  "command",
  "workdir",
  "user",
  "vars",
  "prestart",
  "prestart_timeout_seconds",
  "restart",
  "resources",
  "scaling",
  "ports",
  "health",
  "mounts",
  "secrets",
] as const;

const SECRETS_PATH =
  "secrets are always delivered at /run/secrets/platform.env; custom paths are not supported in v1";

/** A process as read. `process` is only meaningful when the sink gained no errors. */
export interface ReadProcess {
  process: NormalisedProcess;
  /** Every mount entry with its file index, for the volume reference checks. */
  mounts: ReadMount[];
}

/**
 * Reads `[processes.<name>]`. `envPrestartTimeout` is the resolved env value the
 * process inherits when it sets none. Returns undefined when the value is not a table.
 */
export function readProcess(
  r: Reader,
  raw: unknown,
  name: string,
  envPrestartTimeout: number,
): ReadProcess | undefined {
  const path: PathSegments = ["processes", name];
  const t = r.table(raw, path, { keys: PROCESS_KEYS });
  if (!t) return undefined;

  const command = r.stringArray(t, "command", path, { minItems: 1 });
  if (command !== undefined && command[0] === "") {
    r.sink.add([...path, "command", 0], E.E_PATTERN, "the program must not be empty");
  }
  const common = readCommon(r, t, path);
  const restart = readRestart(r, own(t, "restart"), [...path, "restart"]);
  const resources = readResources(r, own(t, "resources"), [...path, "resources"]);
  const ports = readPorts(r, t, path);
  const health = readHealth(r, t, path, ports);
  const { mounts, count: mountCount } = readMounts(r, t, path);
  const scaling = readScaling(r, own(t, "scaling"), [...path, "scaling"], name, mountCount > 0);
  const secrets = r.table(own(t, "secrets"), [...path, "secrets"], {
    keys: ["required"],
    unsupported: { path: SECRETS_PATH, mount_path: SECRETS_PATH, file: SECRETS_PATH },
  });

  const process: NormalisedProcess = {
    ...(command !== undefined ? { command } : {}),
    ...(common.workdir !== undefined ? { workdir: common.workdir } : {}),
    ...(common.user !== undefined ? { user: common.user } : {}),
    vars: common.vars,
    prestart: common.prestart,
    prestart_timeout_seconds: common.prestartTimeoutSeconds ?? envPrestartTimeout,
    restart,
    resources,
    scaling,
    ports: ports.ports,
    ...(health !== undefined ? { health } : {}),
    mounts: mounts.flatMap((m) => (m.mount ? [m.mount] : [])),
    secrets: {
      required: (secrets && r.boolean(secrets, "required", [...path, "secrets"])) ?? D.secretsRequired,
    },
  };
  return { process, mounts };
}

function readRestart(r: Reader, raw: unknown, path: PathSegments): NormalisedRestart {
  const t = r.table(raw, path, { keys: ["policy", "max_retries", "backoff_seconds"] }) ?? {};
  const policy = r.oneOf<RestartPolicy>(t, "policy", path, ["always", "on-failure", "never"]);
  const effective = own(t, "policy") === undefined ? D.restartPolicy : policy;
  const maxRetries = r.integer(t, "max_retries", path, { min: 0, max: 1000 });
  if (own(t, "max_retries") !== undefined && effective !== undefined && effective !== "on-failure") {
    r.sink.add([...path, "max_retries"], E.E_NOT_APPLICABLE, 'applies only to policy = "on-failure"');
  }
  const backoff =
    r.integer(t, "backoff_seconds", path, { min: 0, max: MAX_SECONDS }) ?? D.restartBackoffSeconds;
  const p = effective ?? D.restartPolicy;
  return p === "on-failure"
    ? { policy: p, max_retries: maxRetries ?? D.restartMaxRetries, backoff_seconds: backoff }
    : { policy: p, backoff_seconds: backoff };
}

function readResources(r: Reader, raw: unknown, path: PathSegments): NormalisedResources {
  // Missing `[resources]` is reported at `resources.memory`, the key actually required.
  const t = r.table(raw, path, { keys: ["memory", "cpu", "disk"] }) ?? (raw === undefined ? {} : undefined);
  if (!t) return { memory: "", cpu: D.cpu, disk: D.disk };
  const memory = readQuantity(r, t, "memory", path, {
    pattern: MEMORY,
    hint: 'a whole number of Mi or Gi such as "512Mi" or "2Gi"',
    minBytes: MIN_MEMORY_BYTES,
    minText: "64Mi",
    required: true,
  });
  const cpu = r.number(t, "cpu", path, { min: 0, max: 64, minExclusive: true });
  const disk = readQuantity(r, t, "disk", path, {
    pattern: GIB_QUANTITY,
    hint: 'a whole number of Gi such as "4Gi"',
    minBytes: MIN_GIB_BYTES,
    minText: "1Gi",
  });
  return { memory: memory ?? "", cpu: cpu ?? D.cpu, disk: disk ?? D.disk };
}

function readScaling(
  r: Reader,
  raw: unknown,
  path: PathSegments,
  name: string,
  hasMounts: boolean,
): { min: number; max: number } {
  const t =
    r.table(raw, path, {
      keys: ["min", "max"],
      unsupported: { autoscale: "autoscaling is not supported in v1; set scaling.min and scaling.max" },
    }) ?? {};
  const min = r.integer(t, "min", path, { min: 0, max: 100 });
  const max = r.integer(t, "max", path, { min: 0, max: 100 });
  const minOk = own(t, "min") === undefined || min !== undefined;
  const maxOk = own(t, "max") === undefined || max !== undefined;
  const effMin = min ?? D.scalingMin;
  const effMax = max ?? effMin;
  if (minOk && maxOk) {
    if (effMax < effMin) {
      r.sink.add([...path, "max"], E.E_RANGE, `must be at least scaling.min (${effMin}), got ${effMax}`);
    }
    // Spec §5: max 0 or 1 is fine (scale-to-zero is how a volume migrates).
    if (hasMounts && effMax > 1) {
      r.sink.add(
        [...path, "max"],
        E.E_VOLUME_REPLICA_LIMIT,
        `process type '${name}' has volume mounts and cannot have replicas > 1`,
      );
    }
  }
  return { min: effMin, max: effMax };
}
