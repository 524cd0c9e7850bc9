import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type pg from "pg";

/** A directory of numbered, forward-only `.sql` files under one namespace. */
export interface MigrationSource {
  namespace: string;
  dir: string;
}

const FILE_RE = /^(\d{4})_[a-z0-9_]+\.sql$/;
// Any fixed number works; it only has to be the same for every process.
const MIGRATION_LOCK = 0x706c666d; // "plfm"

/**
 * Applies pending migrations in order, each in its own transaction, under a
 * session advisory lock so that concurrent server starts apply each file once.
 * An applied file whose text changed is an error: migrations are forward-only.
 * @returns the names of the files applied by this call.
 */
export async function migrate(pool: pg.Pool, sources: MigrationSource[]): Promise<string[]> {
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Map<string, string>(
      (
        await client.query<{ name: string; checksum: string }>("SELECT name, checksum FROM schema_migrations")
      ).rows.map((r) => [r.name, r.checksum]),
    );
    for (const source of sources) {
      const files = (await readdir(source.dir)).filter((f) => FILE_RE.test(f)).sort();
      for (const file of files) {
        const name = `${source.namespace}/${file}`;
        const sql = await readFile(join(source.dir, file), "utf8");
        const checksum = createHash("sha256").update(sql).digest("hex");
        const previous = done.get(name);
        if (previous !== undefined) {
          if (previous !== checksum) throw new Error(`migration ${name} was edited after it was applied`);
          continue;
        }
        await client.query("BEGIN");
        try {
          await client.query(sql);
          await client.query("INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)", [
            name,
            checksum,
          ]);
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK");
          throw new Error(`migration ${name} failed: ${(err as Error).message}`, { cause: err });
        }
        applied.push(name);
      }
    }
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => {});
    client.release();
  }
  return applied;
}

/** The kernel's own migrations; domains list theirs after it. */
export const kernelMigrations: MigrationSource = {
  namespace: "kernel",
  dir: new URL("../../migrations", import.meta.url).pathname,
};
