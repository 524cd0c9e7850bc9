import { Command } from "commander";
import { registerServerCommands } from "./commands/server.ts";
import { cliVersion } from "./version.ts";

/**
 * The `plfm` command tree. Each command group lives in its own file under
 * `commands/` and registers itself here.
 */
export function buildProgram(): Command {
  const program = new Command("plfm")
    .description("plfm: deploy OCI images with a plfm.toml manifest, and run the platform's daemons")
    .version(cliVersion(), "-V, --version", "print the version")
    .showHelpAfterError("(run plfm --help for usage)");
  registerServerCommands(program);
  return program;
}
