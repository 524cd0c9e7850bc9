import { type Queryable, sqlState } from "@plfm/kernel";
import { withTimeout } from "./database.ts";

/** The answer of a readiness probe. */
export type Readiness = { ready: true } | { ready: false; detail: string };

/** A readiness probe; the HTTP layer calls it for each `GET /readyz`. */
export type ReadinessCheck = () => Promise<Readiness>;

const UNDEFINED_TABLE = "42P01";

/**
 * Ready means: the database answers within `timeoutMs`, and every migration
 * this process depends on is recorded as applied. One query proves both. The
 * timeout matters because a pool waiting for a connection never gives up by
 * itself, and a probe that hangs is worse than one that says no.
 */
export function databaseReadiness(db: Queryable, migrationNames: string[], timeoutMs = 2000): ReadinessCheck {
  return async () => {
    try {
      const { rows } = await withTimeout(
        db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM schema_migrations WHERE name = ANY($1::text[])",
          [migrationNames],
        ),
        timeoutMs,
        `the database did not answer within ${timeoutMs} ms`,
      );
      const n = rows[0]?.n ?? 0;
      if (n < migrationNames.length) {
        return { ready: false, detail: `${migrationNames.length - n} required migration(s) are not applied` };
      }
      return { ready: true };
    } catch (err) {
      if (sqlState(err) === UNDEFINED_TABLE) return { ready: false, detail: "migrations are not applied" };
      // Driver messages can name hosts and users; the probe says only what kind of failure it was.
      const code = sqlState(err);
      return {
        ready: false,
        detail:
          err instanceof Error && err.message.startsWith("the database did not answer")
            ? err.message
            : `the database is unreachable${code ? ` (${code})` : ""}`,
      };
    }
  };
}
