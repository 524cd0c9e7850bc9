// `plfm server mint-token`: how the first operator gets in. Whoever can reach
// the database can already do anything, so database access is the credential:
// the command opens the server's database and issues a token pair for a user.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EMBEDDED_POSTGRES_PASSWORD, KernelError, type Logger, type Queryable } from "@plfm/kernel";
import type { ServerConfig } from "../config.ts";
import { openDatabase } from "../database.ts";
import { GRANTABLE_SCOPES } from "./schemas.ts";
import { issueUserTokens, type TokenPair } from "./token-store.ts";
import { userIdFor } from "./tokens.ts";

/** What `mint-token` prints, once. */
export interface MintedTokens extends TokenPair {
  subject_id: string;
  email: string;
  scopes: string[];
  /** Whether PLFM_OPERATOR_EMAILS names this user (then `nodes:admin` applies). */
  operator: boolean;
}

const EMAIL_RE = /^[^@\s]+@[^@\s]+$/;

/**
 * Checks the mint-token arguments: a plausible email (lower-cased) and known,
 * grantable scopes (default: all of them; `nodes:admin` comes only from
 * PLFM_OPERATOR_EMAILS).
 * @throws KernelError `invalid_argument` naming the bad field.
 */
export function parseMintArguments(input: { email: string; scopes?: string | undefined }): {
  email: string;
  scopes: string[];
} {
  const email = input.email.trim().toLowerCase();
  if (!EMAIL_RE.test(email) || email.length > 254) {
    throw new KernelError("invalid_argument", `"${input.email}" is not an email address.`, {
      details: [{ field: "email", message: "expected user@host" }],
    });
  }
  if (input.scopes === undefined) return { email, scopes: [...GRANTABLE_SCOPES] };
  const scopes = [...new Set(input.scopes.split(/[\s,]+/).filter((s) => s !== ""))];
  const unknown = scopes.filter((s) => !(GRANTABLE_SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0 || scopes.length === 0) {
    throw new KernelError(
      "invalid_argument",
      `unknown or ungrantable scopes: ${unknown.join(", ") || "(none given)"}`,
      {
        details: [{ field: "scopes", message: `choose from: ${GRANTABLE_SCOPES.join(", ")}` }],
      },
    );
  }
  return { email, scopes: scopes.sort() };
}

/** Issues an access token and the first refresh token of a new chain for the user. */
export async function mintUserTokens(
  db: Queryable,
  input: { email: string; scopes: readonly string[] },
  now: Date,
): Promise<Omit<MintedTokens, "operator">> {
  const subjectId = userIdFor(input.email);
  const pair = await issueUserTokens(
    db,
    { type: "user", id: subjectId, email: input.email, orgId: null, scopes: input.scopes },
    now,
  );
  return { ...pair, subject_id: subjectId, email: input.email, scopes: [...input.scopes] };
}

/**
 * Opens the server's database (migrating it like the server does), mints,
 * closes. Without DATABASE_URL, a running `plfm server`'s embedded Postgres
 * is used through its port in `postmaster.pid`: starting a second Postgres
 * on that data directory would fail while the server runs.
 */
export async function mintTokenWithConfig(
  config: ServerConfig,
  input: { email: string; scopes: readonly string[] },
  logger: Logger,
): Promise<MintedTokens> {
  const running = config.databaseUrl === null ? runningEmbeddedUrl(config.embeddedDataDir) : null;
  const database = await openDatabase(
    { databaseUrl: config.databaseUrl ?? running, embeddedDataDir: config.embeddedDataDir },
    logger,
  );
  try {
    const minted = await mintUserTokens(database.pool, input, new Date());
    return { ...minted, operator: config.operatorEmails.has(input.email) };
  } finally {
    await database.close();
  }
}

/** The URL of the embedded Postgres running on `dataDir`, or null when none is. */
export function runningEmbeddedUrl(dataDir: string): string | null {
  let lines: string[];
  try {
    lines = readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n");
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]); // postmaster.pid: pid, data dir, start time, port, …
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0) return null;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: alive, but owned by another user (the `postgres` user when we run as root).
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return null;
  }
  return `postgres://postgres:${EMBEDDED_POSTGRES_PASSWORD}@127.0.0.1:${port}/postgres`;
}
