import { resolve } from "node:path";
import type { ExecLimits } from "./exec/limits.ts";
import { type Ipv4Range, parseIpv4Pool } from "./networking/ipv4-pool.ts";
import type { Keyring } from "./secrets/keyring.ts";
import { loadSecretsKeyring } from "./secrets/keyring-config.ts";

/** Where the HTTP server listens. `host` is a bare address (no brackets) or a name. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** The `plfm server` configuration, read from the environment (spec platform.md §1). */
export interface ServerConfig {
  /** `DATABASE_URL`; null means "run an embedded Postgres in {@link ServerConfig.embeddedDataDir}". */
  databaseUrl: string | null;
  /** Absolute data directory of the embedded Postgres (`./.plfm/pg` under the working directory). */
  embeddedDataDir: string;
  /** `PLFM_LISTEN_ADDR`, default `[::]:8080`. */
  listen: ListenAddress;
  /** `PLFM_LOG_LEVEL`, default `info`. */
  logLevel: LogLevel;
  /** `PLFM_PROJECTION_WAIT_TIMEOUT_SECS` (default 5) in milliseconds: the read-your-writes bound. */
  projectionWaitTimeoutMs: number;
  /** `PLFM_DEV=1`: accept dev tokens (`Bearer user:<email>`). Never in production. */
  dev: boolean;
  /** `PLFM_OPERATOR_EMAILS` (comma-separated, lower-cased): users granted `nodes:admin`. */
  operatorEmails: ReadonlySet<string>;
  /** `PLFM_PUBLIC_URL`: the server's URL as users reach it (device-flow links); absent = the request's URL. */
  publicUrl?: string | null;
  /** `PLFM_IPV4_POOL` (addresses and CIDRs, comma-separated): the IPv4 add-on's pool. Absent = empty. */
  ipv4Pool?: readonly Ipv4Range[];
  /**
   * `PLFM_SECRETS_MASTER_KEY` or `_FILE`, `_ID`, `PLFM_SECRETS_PREVIOUS_KEYS_FILE`: the secrets
   * keyring. Null or absent = no key (dev mode then generates an ephemeral one; otherwise
   * secret writes answer 503). A key that is set but unusable is a ConfigError.
   */
  secretsKeyring?: Keyring | null;
  /** Exec bounds other than the spec's; tests lower the timeout floors. Never read from the environment. */
  execLimits?: Partial<ExecLimits>;
  /**
   * PLFM_SCHEDULER (default 1 from the environment): whether this server's
   * leader runs the scheduler. Absent = off, so test servers that play the
   * scheduler's part by hand never race a real one.
   */
  scheduler?: boolean;
  /** The scheduler's safety-net period (default 5 s; tests shorten it). */
  schedulerTickMs?: number;
  /** Silence after which a node is offline (default 45 s, spec §6.3; tests shorten it). */
  schedulerHeartbeatTimeoutMs?: number;
}

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULT_LISTEN_ADDR = "[::]:8080";
export const DEFAULT_EMBEDDED_DATA_DIR = ".plfm/pg";

/** Invalid configuration; `problems` holds one line per bad variable. The CLI exits 2 on it. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/**
 * Reads the server configuration. Every bad variable is reported at once, so an
 * operator fixes them in one round instead of one per restart.
 * @throws ConfigError
 */
export function loadServerConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ServerConfig {
  const problems: string[] = [];
  const attempt = <T>(name: string, parse: () => T, fallback: T): T => {
    try {
      return parse();
    } catch (err) {
      problems.push(`${name}: ${(err as Error).message}`);
      return fallback;
    }
  };

  const config: ServerConfig = {
    databaseUrl: attempt("DATABASE_URL", () => parseDatabaseUrl(env.DATABASE_URL), null),
    embeddedDataDir: resolve(cwd, DEFAULT_EMBEDDED_DATA_DIR),
    listen: attempt(
      "PLFM_LISTEN_ADDR",
      () => parseListenAddr(nonEmpty(env.PLFM_LISTEN_ADDR) ?? DEFAULT_LISTEN_ADDR),
      { host: "::", port: 8080 },
    ),
    logLevel: attempt("PLFM_LOG_LEVEL", () => parseLogLevel(env.PLFM_LOG_LEVEL), "info" as LogLevel),
    projectionWaitTimeoutMs: attempt(
      "PLFM_PROJECTION_WAIT_TIMEOUT_SECS",
      () => parsePositiveSeconds(env.PLFM_PROJECTION_WAIT_TIMEOUT_SECS, 5) * 1000,
      5000,
    ),
    dev: attempt("PLFM_DEV", () => parseFlag(env.PLFM_DEV), false),
    operatorEmails: new Set(
      (nonEmpty(env.PLFM_OPERATOR_EMAILS) ?? "")
        .split(",")
        .map((e) => e.trim().toLowerCase())
        .filter((e) => e !== ""),
    ),
    publicUrl: attempt("PLFM_PUBLIC_URL", () => parsePublicUrl(env.PLFM_PUBLIC_URL), null),
    ipv4Pool: attempt("PLFM_IPV4_POOL", () => parseIpv4Pool(env.PLFM_IPV4_POOL), []),
    secretsKeyring: attempt("secrets master key", () => loadSecretsKeyring(env), null),
    scheduler: attempt(
      "PLFM_SCHEDULER",
      () => env.PLFM_SCHEDULER === undefined || parseFlag(env.PLFM_SCHEDULER),
      true,
    ),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function parseFlag(value: string | undefined): boolean {
  const v = nonEmpty(value);
  if (v === undefined || v === "0") return false;
  if (v === "1") return true;
  throw new Error(`must be 1 or 0, got "${v}"`);
}

// An empty variable is treated as unset: `FOO= plfm server` is how shells unset for one command.
function nonEmpty(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v === undefined || v === "" ? undefined : v;
}

function parsePublicUrl(value: string | undefined): string | null {
  const v = nonEmpty(value);
  if (v === undefined) return null;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new Error(`not a URL (expected e.g. https://plfm.example.com), got "${v}"`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new Error(`scheme must be https:// or http://, got ${url.protocol}//`);
  }
  return v.replace(/\/+$/, "");
}

function parseDatabaseUrl(value: string | undefined): string | null {
  const v = nonEmpty(value);
  if (v === undefined) return null;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new Error("not a URL (expected postgres://user:password@host:port/database)");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new Error(`scheme must be postgres:// or postgresql://, got ${url.protocol}//`);
  }
  return v;
}

/**
 * Parses `host:port` or `[ipv6]:port`. A bare IPv6 address without brackets is
 * refused because its last group cannot be told apart from a port.
 */
export function parseListenAddr(value: string): ListenAddress {
  let host: string;
  let portText: string;
  if (value.startsWith("[")) {
    const close = value.indexOf("]");
    if (close < 0 || value[close + 1] !== ":") throw new Error(`expected [ipv6]:port, got "${value}"`);
    host = value.slice(1, close);
    portText = value.slice(close + 2);
    if (!host.includes(":")) throw new Error(`brackets are only for IPv6 addresses, got "${value}"`);
  } else {
    const colon = value.lastIndexOf(":");
    if (colon < 0) throw new Error(`expected host:port, got "${value}"`);
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
    if (host.includes(":"))
      throw new Error(`write IPv6 addresses in brackets, e.g. [::1]:8080, got "${value}"`);
  }
  if (host === "") throw new Error(`missing host in "${value}" (use [::] or 0.0.0.0 for all interfaces)`);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new Error(`port must be an integer 0–65535, got "${portText}"`);
  }
  return { host, port: Number(portText) };
}

/** Formats an address back to `host:port` / `[v6]:port`. */
export function formatListenAddr(addr: ListenAddress): string {
  return addr.host.includes(":") ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}

function parseLogLevel(value: string | undefined): LogLevel {
  const v = nonEmpty(value)?.toLowerCase() ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(v)) {
    throw new Error(`must be one of ${LOG_LEVELS.join(", ")}, got "${value}"`);
  }
  return v as LogLevel;
}

function parsePositiveSeconds(value: string | undefined, fallback: number): number {
  const v = nonEmpty(value);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 3600) {
    throw new Error(`must be a number of seconds above 0 and at most 3600, got "${value}"`);
  }
  return n;
}

/** `url` with its password replaced, for log lines and error messages. */
export function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<unparseable DATABASE_URL>";
  }
}
