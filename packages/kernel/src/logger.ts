import pino from "pino";

export type Logger = pino.Logger;

/**
 * Paths whose values never reach a log line. Secrets and tokens must not be
 * logged at all; this is the net under that rule, not the rule itself.
 */
export const REDACT_PATHS = [
  "authorization",
  "*.authorization",
  "req.headers.authorization",
  "req.headers.cookie",
  "password",
  "*.password",
  "token",
  "*.token",
  "secret",
  "*.secret",
  "client_secret",
  "*.client_secret",
  "*.access_token",
  "*.refresh_token",
];

/** JSON logs to stdout (or the given stream), with secrets redacted. */
export function createLogger(options: {
  name: string;
  level?: string;
  destination?: pino.DestinationStream;
}): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? process.env.PLFM_LOG_LEVEL ?? "info",
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}
