// `ports[]` and `[health]` of one process.

import { MANIFEST_ERROR_CODES as E, type PathSegments } from "./errors.ts";
import { MAX_SECONDS } from "./fields.ts";
import { own, type Reader, show, type Table, typeName } from "./read.ts";
import {
  MANIFEST_DEFAULTS as D,
  type HealthType,
  type NormalisedHealth,
  type NormalisedPort,
} from "./types.ts";
import { HTTP_PATH, PROCESS_NAME } from "./values.ts";

/** `ok` is false when any port had an error, so later checks can avoid cascades. */
export interface PortsResult {
  ports: NormalisedPort[];
  ok: boolean;
}

export function readPorts(r: Reader, proc: Table, path: PathSegments): PortsResult {
  const at = [...path, "ports"];
  const raw = own(proc, "ports");
  if (raw === undefined) return { ports: [], ok: true };
  if (!Array.isArray(raw)) {
    r.sink.add(at, E.E_TYPE, `must be an array of tables ([[processes.<name>.ports]]), got ${typeName(raw)}`);
    return { ports: [], ok: false };
  }
  const before = r.sink.count;
  const ports: NormalisedPort[] = [];
  const byName = new Map<string, number>();
  const byNumber = new Map<number, number>();
  raw.forEach((item: unknown, i) => {
    const p = [...at, i];
    const t = r.table(item, p, {
      keys: ["name", "internal", "protocol"],
    });
    if (!t) return;
    const name = r.string(t, "name", p, {
      pattern: PROCESS_NAME,
      hint: "a name matching ^[a-z][a-z0-9-]{0,31}$",
    });
    const internal = r.integer(t, "internal", p, { required: true, min: 1, max: 65535 });
    const protocol = r.string(t, "protocol", p);
    if (protocol !== undefined && protocol !== "tcp") {
      r.sink.add(
        [...p, "protocol"],
        E.E_UNSUPPORTED,
        `only "tcp" ports are supported in v1, got ${show(protocol)}`,
      );
    }
    if (internal === undefined || (own(t, "name") !== undefined && name === undefined)) return;
    const finalName = name ?? `p${internal}`;
    const sameName = byName.get(finalName);
    if (sameName !== undefined) {
      const derived = name === undefined ? ` (derived from internal = ${internal})` : "";
      r.sink.add(
        [...p, "name"],
        E.E_DUPLICATE,
        `port name "${finalName}"${derived} is already used by ports[${sameName}]`,
      );
    } else byName.set(finalName, i);
    const sameNumber = byNumber.get(internal);
    if (sameNumber !== undefined) {
      r.sink.add(
        [...p, "internal"],
        E.E_DUPLICATE,
        `port ${internal} is already declared by ports[${sameNumber}]`,
      );
    } else byNumber.set(internal, i);
    ports.push({ name: finalName, internal, protocol: D.portProtocol });
  });
  return { ports, ok: r.sink.count === before };
}

/**
 * `[health]`, resolved against the ports. Absent health means tcp on the first port,
 * or no check at all ("ready once running") for a process without ports.
 */
export function readHealth(
  r: Reader,
  proc: Table,
  path: PathSegments,
  ports: PortsResult,
): NormalisedHealth | undefined {
  const at = [...path, "health"];
  const raw = own(proc, "health");
  if (raw === undefined) {
    const first = ports.ports[0];
    return first && ports.ok ? withTimings({ type: D.healthType, port: first.internal }, {}) : undefined;
  }
  const t = r.table(raw, at, {
    keys: [
      "type",
      "port",
      "path",
      "interval_seconds",
      "timeout_seconds",
      "grace_period_seconds",
      "success_threshold",
      "failure_threshold",
    ],
  });
  if (!t) return undefined;
  const type = r.oneOf<HealthType>(t, "type", at, ["tcp", "http"]);
  const effectiveType = own(t, "type") === undefined ? D.healthType : type;

  let httpPath: string | undefined;
  if (effectiveType === "tcp" && own(t, "path") !== undefined) {
    r.sink.add([...at, "path"], E.E_NOT_APPLICABLE, 'applies only to type = "http"');
  } else {
    httpPath = r.string(t, "path", at, {
      required: effectiveType === "http",
      pattern: HTTP_PATH,
      hint: 'an absolute request path such as "/healthz" (printable, no spaces)',
      maxLength: 2048,
    });
  }

  const port = resolvePort(r, own(t, "port"), [...at, "port"], ports);
  const timings = {
    interval_seconds: r.integer(t, "interval_seconds", at, { min: 1, max: MAX_SECONDS }),
    timeout_seconds: r.integer(t, "timeout_seconds", at, { min: 1, max: MAX_SECONDS }),
    grace_period_seconds: r.integer(t, "grace_period_seconds", at, { min: 0, max: MAX_SECONDS }),
    success_threshold: r.integer(t, "success_threshold", at, { min: 1, max: 100 }),
    failure_threshold: r.integer(t, "failure_threshold", at, { min: 1, max: 100 }),
  };
  if (effectiveType === undefined || port === undefined) return undefined;
  const base =
    effectiveType === "http"
      ? { type: effectiveType, port, path: httpPath ?? "/" }
      : { type: effectiveType, port };
  return withTimings(base, timings);
}

function withTimings(
  base: { type: HealthType; port: number; path?: string },
  t: Partial<Record<keyof Omit<NormalisedHealth, "type" | "port" | "path">, number | undefined>>,
): NormalisedHealth {
  return {
    ...base,
    interval_seconds: t.interval_seconds ?? D.healthIntervalSeconds,
    timeout_seconds: t.timeout_seconds ?? D.healthTimeoutSeconds,
    grace_period_seconds: t.grace_period_seconds ?? D.healthGracePeriodSeconds,
    success_threshold: t.success_threshold ?? D.healthSuccessThreshold,
    failure_threshold: t.failure_threshold ?? D.healthFailureThreshold,
  };
}

/** `health.port`: a port name or number that must be one of this process's ports. */
function resolvePort(r: Reader, raw: unknown, at: PathSegments, ports: PortsResult): number | undefined {
  if (raw !== undefined && typeof raw !== "string" && !(typeof raw === "number" && Number.isInteger(raw))) {
    r.sink.add(at, E.E_TYPE, `must be a port name (string) or number (integer), got ${typeName(raw)}`);
    return undefined;
  }
  // A broken ports list was already reported; resolving against it would only add noise.
  if (!ports.ok) return undefined;
  if (raw === undefined) {
    const first = ports.ports[0];
    if (!first) {
      r.sink.add(
        at,
        E.E_REFERENCE,
        "the process declares no ports, so the health check has no port to probe",
      );
      return undefined;
    }
    return first.internal;
  }
  const hit = ports.ports.find((p) => (typeof raw === "string" ? p.name === raw : p.internal === raw));
  if (!hit) {
    const known = ports.ports.map((p) => `${p.name} (${p.internal})`).join(", ") || "none";
    r.sink.add(at, E.E_REFERENCE, `${show(raw)} does not name a port of this process; ports: ${known}`);
    return undefined;
  }
  return hit.internal;
}
