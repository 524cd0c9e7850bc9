import { randomBytes } from "node:crypto";
import { createPool, kernelMigrations, migrate, type Pool } from "@plfm/kernel";
import pg from "pg";

/** A fresh database for one test file, and how to get rid of it. */
export interface TestDatabase {
  /** Connection string of the new database. */
  url: string;
  pool: Pool;
  /** Ends the pool and drops the database. */
  drop(): Promise<void>;
}

/** `serverUrl` with its database name replaced. */
export function databaseUrl(serverUrl: string, database: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Drops a database, ending any sessions still connected to it. */
export async function dropDatabase(admin: pg.Client, name: string): Promise<void> {
  await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
}

/**
 * Creates a database cloned from the run's migrated template (set up by
 * scripts/test.ts). Run outside that script, it migrates a new database on
 * PLFM_TEST_DATABASE_URL instead.
 */
export async function createTestDatabase(options: { poolSize?: number } = {}): Promise<TestDatabase> {
  const serverUrl = process.env.PLFM_TEST_SERVER_URL ?? process.env.PLFM_TEST_DATABASE_URL;
  if (!serverUrl) throw new Error("run tests with `npm test` (or set PLFM_TEST_DATABASE_URL)");
  const template = process.env.PLFM_TEST_TEMPLATE;
  const name = `plfm_t${process.ppid}_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(
      `CREATE DATABASE ${pg.escapeIdentifier(name)}${template ? ` TEMPLATE ${pg.escapeIdentifier(template)}` : ""}`,
    );
  } finally {
    await admin.end();
  }
  const url = databaseUrl(serverUrl, name);
  const pool = createPool(url, { max: options.poolSize ?? 5, applicationName: "plfm-test" });
  if (!template) await migrate(pool, [kernelMigrations]);
  return {
    url,
    pool,
    async drop() {
      await pool.end();
      const a = new pg.Client({ connectionString: serverUrl });
      await a.connect();
      try {
        await dropDatabase(a, name);
      } finally {
        await a.end();
      }
    },
  };
}
