import type { AddressInfo } from "node:net";
import { createLogger, KernelRuntime, type LeaderTask, type Logger, type Projection } from "@plfm/kernel";
import type { FastifyInstance } from "fastify";
import { formatListenAddr, type ListenAddress, type ServerConfig } from "./config.ts";
import { contexts } from "./contexts.ts";
import { type Database, openDatabase, StartupError } from "./database.ts";
import { buildApp } from "./http/app.ts";
import { createServerMetrics, type ServerMetrics } from "./http/metrics.ts";
import { registerOpenApi } from "./http/openapi.ts";
import type { RouteDeps } from "./http/route.ts";
import { databaseReadiness } from "./readiness.ts";
import { resolveSecretsKeyring } from "./secrets/keyring-config.ts";

/** A started `plfm server`. */
export interface RunningServer {
  /** Base URL of the API as bound, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** The address actually bound (the port is real even when 0 was asked for). */
  address: ListenAddress;
  app: FastifyInstance;
  database: Database;
  metrics: ServerMetrics;
  logger: Logger;
  /** Feed hub, read-your-writes watcher, and the leader-only projection runner. */
  kernel: KernelRuntime;
  /** Stops serving, stops background workers, closes the pool, stops the embedded Postgres. Idempotent. */
  close(): Promise<void>;
}

/** The projections plfm keeps; the bounded contexts add theirs here. */
export const serverProjections: Projection[] = contexts.flatMap((c) => c.projections);

/** A background worker's stop function; the server calls them in reverse start order on close. */
export type StopWorker = () => Promise<void>;

export interface StartServerOptions {
  /** Defaults to JSON logs on stdout at `config.logLevel`. */
  logger?: Logger;
}

// In-flight requests get this long to finish on shutdown; long-lived streams must not hold it up forever.
const HTTP_CLOSE_TIMEOUT_MS = 10_000;

/**
 * Starts the control plane: database (embedded when `DATABASE_URL` is unset),
 * migrations, background workers, then the HTTP API. Anything started is
 * stopped again when a later step fails.
 * @throws StartupError when the database or the listen address cannot be used.
 */
export async function startServer(
  config: ServerConfig,
  options: StartServerOptions = {},
): Promise<RunningServer> {
  const logger = options.logger ?? serverLogger(config.logLevel);
  const metrics = createServerMetrics("plfm");
  const database = await openDatabase(config, logger);
  const workers: StopWorker[] = [];
  const app = buildApp({
    logger,
    metrics,
    readiness: databaseReadiness(database.pool, database.migrationNames),
  });

  // The kernel's workers: the feed hub and read-your-writes watcher in every
  // replica; the projection runner and clean-ups only in the one holding the
  // lease (spec platform.md §1). Started below, stopped after HTTP, before the pool.
  // Each context's singletons, run separately so one failing restarts alone.
  const leaderTasks: LeaderTask[] = [];
  const kernel = new KernelRuntime({
    pool: database.pool,
    url: database.url,
    projections: serverProjections,
    leaseName: "plfm-singletons",
    metrics: metrics.kernel,
    logger,
    // Filled below once `deps` exists; read when the lease is won.
    leaderTasks,
  });
  const deps: RouteDeps = {
    pool: database.pool,
    kernel,
    auth: { dev: config.dev, operatorEmails: config.operatorEmails },
    projectionWaitTimeoutMs: config.projectionWaitTimeoutMs,
    now: () => new Date(),
    publicUrl: config.publicUrl ?? null,
    ipv4Pool: config.ipv4Pool ?? [],
    keyring: resolveSecretsKeyring(config, logger),
    projections: serverProjections,
    ...(config.execLimits ? { execLimits: config.execLimits } : {}),
    log: logger,
    scheduler: config.scheduler
      ? {
          ...(config.schedulerTickMs !== undefined ? { tickMs: config.schedulerTickMs } : {}),
          ...(config.schedulerHeartbeatTimeoutMs !== undefined
            ? { heartbeatTimeoutMs: config.schedulerHeartbeatTimeoutMs }
            : {}),
        }
      : null,
  };
  // Bounded contexts register their routes here, after the OpenAPI collector.
  await registerOpenApi(app, "1");
  for (const context of contexts) context.registerRoutes(app, deps);
  for (const context of contexts) leaderTasks.push(...(context.leaderTasks?.(deps) ?? []));

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      // HTTP first: requests in flight may be waiting on a projection, which
      // must keep running until they are answered. Then workers, then the pool.
      await closeWithin(app, HTTP_CLOSE_TIMEOUT_MS, logger);
      for (const stop of workers.reverse()) {
        await stop().catch((err) => logger.error({ err }, "a background worker failed to stop"));
      }
      await database.close();
    })();
    return closing;
  };

  try {
    await kernel.start();
    workers.push(() => kernel.stop());

    const address = await listen(app, config.listen, logger);
    const url = `http://${formatListenAddr(address)}`;
    logger.info({ url, database: database.displayUrl }, `plfm server listening on ${url}`);
    return { url, address, app, database, metrics, logger, kernel, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * JSON logs on stdout. Written through `process.stdout`, which Node writes
 * synchronously to files and pipes on Linux, rather than pino's default
 * asynchronous stream: the last lines before `process.exit` (the shutdown)
 * must neither be lost nor come out of order.
 */
export function serverLogger(level: string): Logger {
  return createLogger({ name: "plfm", level, destination: process.stdout });
}

/**
 * Listens on `addr`. `[::]` (the default) falls back to 0.0.0.0 on hosts
 * without IPv6, so the default configuration works everywhere.
 */
async function listen(app: FastifyInstance, addr: ListenAddress, logger: Logger): Promise<ListenAddress> {
  try {
    await app.listen({ host: addr.host, port: addr.port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (addr.host === "::" && (code === "EAFNOSUPPORT" || code === "EADDRNOTAVAIL")) {
      logger.warn(`IPv6 is not available here; listening on 0.0.0.0:${addr.port} instead of [::]`);
      return listen(app, { host: "0.0.0.0", port: addr.port }, logger);
    }
    const where = formatListenAddr(addr);
    const why =
      code === "EADDRINUSE"
        ? "the address is already in use"
        : code === "EACCES"
          ? "permission denied (ports below 1024 need privileges)"
          : code === "EADDRNOTAVAIL" || code === "ENOTFOUND"
            ? "no such local address"
            : (err as Error).message;
    throw new StartupError(`cannot listen on ${where} (PLFM_LISTEN_ADDR): ${why}`, { cause: err });
  }
  const bound = app.server.address() as AddressInfo;
  return { host: addr.host, port: bound.port };
}

async function closeWithin(app: FastifyInstance, ms: number, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(true), ms);
  });
  const late = await Promise.race([app.close().then(() => false), timedOut]);
  clearTimeout(timer);
  if (late) {
    logger.warn(`HTTP connections still open after ${ms} ms; closing them`);
    app.server.closeAllConnections();
  }
}
