import type { Logger } from "@plfm/kernel";
import type { ServerConfig } from "./config.ts";
import { StartupError } from "./database.ts";
import { releaseEmbeddedPostgresSignalHooks } from "./exit-hooks.ts";
import { type RunningServer, serverLogger, startServer } from "./server.ts";

const SHUTDOWN_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
const DUPLICATE_SIGNAL_WINDOW_MS = 1000;

/**
 * Runs `plfm server` in this process until a signal, and resolves with the
 * process exit code: 0 after a clean shutdown, 1 when startup failed or the
 * process crashed.
 *
 * States: starting → serving → stopping → stopped.
 * - starting: a signal only records that a stop was asked for; once startup
 *   finishes (or fails) we go straight to stopping, so a half-started server
 *   (e.g. a Postgres still running initdb) is never abandoned.
 * - serving: the first signal moves to stopping.
 * - stopping: a second signal (one second or more after the first) gives up
 *   on the orderly shutdown and exits 1 at once (the embedded Postgres still
 *   gets SIGINT from its exit hook).
 * - An uncaught exception or unhandled rejection in any state is logged and
 *   moves to stopping with exit code 1.
 */
export async function runServer(config: ServerConfig, options: { logger?: Logger } = {}): Promise<number> {
  const logger = options.logger ?? serverLogger(config.logLevel);
  await releaseEmbeddedPostgresSignalHooks();

  let state: "starting" | "serving" | "stopping" = "starting";
  let exitCode = 0;
  let server: RunningServer | null = null;
  let requestStop!: () => void;
  const stopRequested = new Promise<void>((r) => {
    requestStop = r;
  });

  let firstSignalAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (state === "stopping") {
      // Under `npm start`, Ctrl-C reaches us twice at once: from the terminal
      // (to the whole process group) and forwarded by npm. Only a signal sent
      // later is someone asking to stop *now*.
      if (Date.now() - firstSignalAt < DUPLICATE_SIGNAL_WINDOW_MS) return;
      logger.warn({ signal }, "second signal: exiting without finishing the shutdown");
      process.exit(1);
    }
    firstSignalAt = Date.now();
    logger.info({ signal }, "shutting down");
    state = "stopping";
    requestStop();
  };
  const onCrash = (err: unknown) => {
    logger.fatal({ err }, "uncaught error; shutting down");
    exitCode = 1;
    state = "stopping";
    requestStop();
  };
  for (const s of SHUTDOWN_SIGNALS) process.on(s, onSignal);
  process.on("uncaughtException", onCrash);
  process.on("unhandledRejection", onCrash);

  try {
    try {
      server = await startServer(config, { logger });
    } catch (err) {
      if (err instanceof StartupError) logger.fatal(err.message);
      else logger.fatal({ err }, "startup failed");
      return 1;
    }
    if (state === "starting") state = "serving";
    await stopRequested;
    await server.close();
    logger.info("stopped");
    return exitCode;
  } finally {
    for (const s of SHUTDOWN_SIGNALS) process.off(s, onSignal);
    process.off("uncaughtException", onCrash);
    process.off("unhandledRejection", onCrash);
  }
}
