import type { Command } from "commander";
import { EXIT } from "../exit-codes.ts";

/**
 * `plfm server mint-token --email <email> [--scopes …] [--json]`: issues an
 * access and a refresh token for a user straight into the server's database
 * and prints them once. This is how the first operator gets in
 * (PLFM_OPERATOR_EMAILS grants `nodes:admin`); it needs what the server
 * needs: DATABASE_URL, or the embedded Postgres in ./.plfm/pg.
 */
export function registerMintTokenCommand(server: Command): void {
  server
    .command("mint-token")
    .description("issue a token pair for a user from the database (bootstraps the first operator)")
    .requiredOption("--email <email>", "the user's email address")
    .option("--scopes <scopes>", "comma-separated scopes (default: every grantable scope)")
    .option("--json", "print only JSON")
    // Set here too: commands created before main.ts set it on the program do not inherit it,
    // and a missing --email must exit 2 (usage), not commander's own 1.
    .exitOverride()
    .addHelpText(
      "after",
      `
Uses DATABASE_URL like \`plfm server\`; without it, the embedded Postgres in ./.plfm/pg
(the one a running \`plfm server\` uses, or a new one). The tokens are printed once and
only their hashes are stored. PLFM_OPERATOR_EMAILS on the server grants nodes:admin.`,
    )
    .action(async (opts: { email: string; scopes?: string; json?: boolean }) => {
      const cp = await import("@plfm/control-plane");
      const { createLogger, isKernelError } = await import("@plfm/kernel");
      const fail = (code: number, message: string) => {
        process.stderr.write(`plfm server mint-token: ${message}\n`);
        process.exitCode = code;
      };
      let config: ReturnType<typeof cp.loadServerConfig>;
      let input: ReturnType<typeof cp.parseMintArguments>;
      try {
        config = cp.loadServerConfig(process.env);
        input = cp.parseMintArguments({ email: opts.email, scopes: opts.scopes });
      } catch (err) {
        if (!(err instanceof cp.ConfigError) && !isKernelError(err)) throw err;
        const hint = isKernelError(err) ? (err.details?.[0]?.message ?? "") : "";
        return fail(EXIT.usage, `${err.message}${hint ? ` (${hint})` : ""}`);
      }
      // Database progress goes to stderr: stdout carries only the tokens.
      const logger = createLogger({ name: "plfm", level: "warn", destination: process.stderr });
      let minted: Awaited<ReturnType<typeof cp.mintTokenWithConfig>>;
      try {
        minted = await cp.mintTokenWithConfig(config, input, logger);
      } catch (err) {
        if (!(err instanceof cp.StartupError)) throw err;
        return fail(EXIT.failure, err.message);
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(minted)}\n`);
        return;
      }
      process.stdout.write(
        [
          `Tokens for ${minted.email} (${minted.subject_id}); they are shown only this once.`,
          `access_token:  ${minted.access_token}`,
          `               expires in ${minted.expires_in_seconds / 60} minutes; use it as PLFM_TOKEN or "Authorization: Bearer …"`,
          `refresh_token: ${minted.refresh_token}`,
          "               valid 30 days; POST /v1/auth/token/refresh {refresh_token} for a new pair",
          `scopes: ${minted.scopes.join(" ")}${minted.operator ? " (+ nodes:admin: operator)" : ""}`,
          "",
        ].join("\n"),
      );
    });
}
