import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  createPool,
  type EmbeddedPostgresHandle,
  kernelMigrations,
  type Logger,
  type MigrationSource,
  migrate,
  type Pool,
  startEmbeddedPostgres,
} from "@plfm/kernel";
import { redactDatabaseUrl, type ServerConfig } from "./config.ts";
import { contexts } from "./contexts.ts";

/** The server's database: a pool on a migrated schema, and the embedded Postgres when there is one. */
export interface Database {
  pool: Pool;
  /** Connection string, for the sessions that must not come from the pool (LISTEN, the leader lease). Never log it. */
  url: string;
  /** Connection string with the password hidden, for logs. */
  displayUrl: string;
  /** Set when the server runs its own Postgres (no `DATABASE_URL`). */
  embedded: { dataDir: string; port: number } | null;
  /** Migration names this process requires; readiness checks they are still recorded. */
  migrationNames: string[];
  /** Ends the pool, then stops the embedded Postgres. Safe to call twice. */
  close(): Promise<void>;
}

/** Thrown when the database cannot be started, reached or migrated; the message says what to do. */
export class StartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StartupError";
  }
}

/** The migrations `plfm server` applies, in order. Domains append theirs after the kernel's. */
export const serverMigrations: MigrationSource[] = [
  kernelMigrations,
  ...contexts.flatMap((c) =>
    c.migrations ? [{ namespace: `control-plane/${c.name}`, dir: c.migrations }] : [],
  ),
];

const CONNECT_TIMEOUT_MS = 15_000;

/**
 * Opens the database named by the config, starting an embedded Postgres when
 * `DATABASE_URL` is unset, and applies pending migrations. On failure anything
 * already started is stopped again before the error is thrown.
 */
export async function openDatabase(
  config: Pick<ServerConfig, "databaseUrl" | "embeddedDataDir">,
  logger: Logger,
  sources: MigrationSource[] = serverMigrations,
): Promise<Database> {
  let embedded: EmbeddedPostgresHandle | null = null;
  let url = config.databaseUrl;
  if (url === null) {
    embedded = await startEmbedded(config.embeddedDataDir, logger);
    url = embedded.url;
  }
  const displayUrl = redactDatabaseUrl(url);
  const pool = createPool(url, { max: 10, applicationName: "plfm-server" });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await pool.end().catch((err) => logger.warn({ err }, "closing the database pool failed"));
    if (embedded) await stopEmbedded(embedded, config.embeddedDataDir, logger);
  };
  try {
    await withTimeout(pool.query("SELECT 1"), CONNECT_TIMEOUT_MS, "no answer").catch((err: Error) => {
      throw new StartupError(
        `cannot reach the database at ${displayUrl}: ${err.message}` +
          (embedded ? "" : " (check DATABASE_URL, or unset it to use the embedded Postgres)"),
        { cause: err },
      );
    });
    const applied = await migrate(pool, sources).catch((err: Error) => {
      throw new StartupError(`database migration failed: ${err.message}`, { cause: err });
    });
    if (applied.length > 0) logger.info({ migrations: applied }, `applied ${applied.length} migration(s)`);
    const namespaces = sources.map((s) => `${s.namespace}/`);
    const { rows } = await pool.query<{ name: string }>("SELECT name FROM schema_migrations ORDER BY name");
    const migrationNames = rows.map((r) => r.name).filter((n) => namespaces.some((ns) => n.startsWith(ns)));
    return {
      pool,
      url,
      displayUrl,
      embedded: embedded ? { dataDir: config.embeddedDataDir, port: embedded.port } : null,
      migrationNames,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

async function startEmbedded(dataDir: string, logger: Logger): Promise<EmbeddedPostgresHandle> {
  const fresh = !existsSync(join(dataDir, "PG_VERSION"));
  logger.info(
    { data_dir: dataDir },
    fresh
      ? `DATABASE_URL is not set: initialising an embedded Postgres in ${dataDir}`
      : `DATABASE_URL is not set: starting the embedded Postgres in ${dataDir}`,
  );
  const pgLog = logger.child({ component: "postgres" });
  // Keep Postgres' own lines: when it fails to start they are the only explanation.
  const recent: string[] = [];
  try {
    const handle = await startEmbeddedPostgres({
      dataDir,
      onLog: (line) => {
        const text = line.trim();
        if (text === "") return;
        recent.push(text);
        if (recent.length > 20) recent.shift();
        pgLog.debug(text);
      },
    });
    logger.info(
      { data_dir: dataDir, port: handle.port },
      `embedded Postgres is running on 127.0.0.1:${handle.port}; its data is kept in ${dataDir}`,
    );
    return handle;
  } catch (err) {
    const asRoot = process.getuid?.() === 0;
    throw new StartupError(
      `the embedded Postgres in ${dataDir} did not start` +
        (err instanceof Error && err.message ? `: ${err.message}` : "") +
        (recent.length > 0 ? `\nPostgres said:\n  ${recent.slice(-8).join("\n  ")}` : "") +
        (asRoot
          ? "\nRunning as root, Postgres runs as the `postgres` user, which must be able to enter every parent directory of the data directory."
          : "") +
        "\nOr set DATABASE_URL to use another Postgres (15 or later).",
      { cause: err },
    );
  }
}

const STOP_TIMEOUT_MS = 20_000;

/**
 * Stops the embedded Postgres and waits until it has exited. The library's own
 * stop() waits for an exit event that never comes when Postgres already exited,
 * which happens when Ctrl-C reaches the whole process group; so we also watch
 * `postmaster.pid`, which Postgres removes as the last step of its shutdown.
 */
async function stopEmbedded(handle: EmbeddedPostgresHandle, dataDir: string, logger: Logger): Promise<void> {
  const pidFile = join(dataDir, "postmaster.pid");
  const stopped = await Promise.race([
    handle.stop().then(() => true),
    waitFor(() => !existsSync(pidFile), STOP_TIMEOUT_MS),
  ]);
  if (stopped) {
    logger.info({ data_dir: dataDir }, "embedded Postgres stopped");
    return;
  }
  // Last resort: an immediate shutdown of our own postmaster (never a broad kill).
  try {
    const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
    logger.warn({ pid }, "embedded Postgres did not stop in time; sending SIGQUIT");
    if (Number.isInteger(pid) && pid > 0) process.kill(pid, "SIGQUIT");
  } catch {
    // The pid file or the process is gone by now: nothing left to stop.
  }
}

/** Resolves true once `done()` holds, or false after `timeoutMs`. */
async function waitFor(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (done()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return done();
}

/** `promise`, or a rejection with `message` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
