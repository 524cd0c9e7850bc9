// Command-side reservations of unique names (table name_claims), taken in the
// transaction that appends the claiming events: a projection's unique index
// would notice a duplicate only after both events were in the log.
import { KernelError, type Queryable, sqlState, UNIQUE_VIOLATION } from "@plfm/kernel";

/** Claim scopes: org names are global, the rest unique within one org. */
export const CLAIM_SCOPE = {
  org: () => "org",
  member: (orgId: string) => `member:${orgId}`,
  project: (orgId: string) => `project:${orgId}`,
} as const;

/**
 * Claims `name` in `scope` for `ownerId`; 409 `conflict` naming `field` when
 * taken. A concurrent claimer of the same name waits for our commit.
 */
export async function claimName(
  client: Queryable,
  scope: string,
  name: string,
  ownerId: string,
  field = "name",
): Promise<void> {
  try {
    await client.query("INSERT INTO name_claims (scope, name, owner_id) VALUES ($1, $2, $3)", [
      scope,
      name,
      ownerId,
    ]);
  } catch (err) {
    if (sqlState(err) !== UNIQUE_VIOLATION) throw err;
    throw new KernelError("conflict", `The ${field} '${name}' is already in use.`, {
      details: [{ field, code: `${field}_in_use`, message: "already in use" }],
    });
  }
}

/** Releases every claim of `ownerId` in `scope` except `keep` (a rename keeps the new name). */
export async function releaseNames(
  client: Queryable,
  scope: string,
  ownerId: string,
  keep: string | null = null,
): Promise<void> {
  await client.query(
    "DELETE FROM name_claims WHERE scope = $1 AND owner_id = $2 AND ($3::text IS NULL OR name <> $3)",
    [scope, ownerId, keep],
  );
}
