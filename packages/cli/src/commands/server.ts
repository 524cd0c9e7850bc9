import type { Command } from "commander";
import { EXIT } from "../exit-codes.ts";
import { registerMintTokenCommand } from "./mint-token.ts";

/**
 * `plfm server`: the control plane daemon. Configured only by environment
 * variables (spec platform.md §1), listed in the help text.
 */
export function registerServerCommands(program: Command): void {
  const server = program
    .command("server")
    .description("run the control plane: HTTP API, event log, projections and controllers")
    .addHelpText(
      "after",
      `
Environment:
  DATABASE_URL                        Postgres 15+ connection string; unset = embedded Postgres in ./.plfm/pg
  PLFM_LISTEN_ADDR                    address to listen on (default [::]:8080)
  PLFM_LOG_LEVEL                      fatal|error|warn|info|debug|trace|silent (default info)
  PLFM_PROJECTION_WAIT_TIMEOUT_SECS   read-your-writes wait before 504 projection_timeout (default 5)
  PLFM_PUBLIC_URL                     the server's URL as users reach it (device sign-in links)
  PLFM_OPERATOR_EMAILS                comma-separated emails granted nodes:admin`,
    )
    .action(async () => {
      // Loaded here, not at the top: only the daemons need the control plane,
      // and user commands should start without loading fastify and pg.
      const { ConfigError, loadServerConfig, runServer } = await import("@plfm/control-plane");
      let config: ReturnType<typeof loadServerConfig>;
      try {
        config = loadServerConfig(process.env);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        process.stderr.write(`plfm server: ${err.message}\n`);
        process.exitCode = EXIT.usage;
        return;
      }
      process.exitCode = await runServer(config);
    });
  registerMintTokenCommand(server);
}
