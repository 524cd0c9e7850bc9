// A small projection for the projection tests: accounts with a deposit
// counter and a balance, and an entry per deposit.
// The counter is deliberately NOT idempotent (deposits = deposits + n), so a
// batch applied twice shows up in the view (the entries would hide it: they
// ignore duplicates); real projections must be idempotent.
import { setTimeout as sleep } from "node:timers/promises";
import type { Queryable } from "../db/pool.ts";
import type { CommandMeta, NewEvent, StoredEvent } from "../events.ts";
import { comparePositions, type Position } from "../position.ts";
import type { Projection } from "./projection.ts";
import { readCheckpoints } from "./projection.ts";

export const meta: CommandMeta = { actorType: "user", actorId: "usr_proj", requestId: "req_proj" };

/** Creates the view tables `<prefix>_accounts` and `<prefix>_entries`. */
export async function createLedgerTables(db: Queryable, prefix: string): Promise<void> {
  await db.query(`
    CREATE TABLE ${prefix}_accounts (
      account_id text PRIMARY KEY, deposits int NOT NULL, balance bigint NOT NULL, last_seq int NOT NULL);
    CREATE TABLE ${prefix}_entries (
      event_id bigint PRIMARY KEY, account_id text NOT NULL, amount bigint NOT NULL)`);
}

/** The ledger projection over tables made by {@link createLedgerTables}, reading `<prefix>.*` events. */
export function ledgerProjection(name: string, prefix: string): Projection {
  return {
    name,
    tables: [`${prefix}_accounts`, `${prefix}_entries`],
    eventTypes: [`${prefix}.opened`, `${prefix}.deposited`],
    async apply(client, events: readonly StoredEvent[]) {
      const isDeposit = (e: StoredEvent) => e.eventType.endsWith(".deposited");
      const amount = (e: StoredEvent) => (isDeposit(e) ? Number(e.payload.amount) : 0);
      await client.query(
        `INSERT INTO ${prefix}_accounts AS a (account_id, deposits, balance, last_seq)
         SELECT id, count(*) FILTER (WHERE t LIKE '%.deposited'), sum(amt), max(seq)
           FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[]) AS u(id, t, amt, seq) GROUP BY id
         ON CONFLICT (account_id) DO UPDATE SET deposits = a.deposits + EXCLUDED.deposits,
           balance = a.balance + EXCLUDED.balance, last_seq = greatest(a.last_seq, EXCLUDED.last_seq)`,
        [
          events.map((e) => e.aggregateId),
          events.map((e) => e.eventType),
          events.map(amount),
          events.map((e) => e.aggregateSeq),
        ],
      );
      const deposits = events.filter(isDeposit);
      await client.query(
        `INSERT INTO ${prefix}_entries (event_id, account_id, amount)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[]) ON CONFLICT (event_id) DO NOTHING`,
        [deposits.map((e) => e.eventId.toString()), deposits.map((e) => e.aggregateId), deposits.map(amount)],
      );
    },
  };
}

/** Event makers for the ledger named `prefix`: each test's ledger sees only its own events. */
export function ledgerEvents(prefix: string) {
  const ev = (type: string, id: string, payload: Record<string, unknown> = {}): NewEvent => ({
    aggregateType: prefix,
    aggregateId: id,
    eventType: `${prefix}.${type}`,
    payload: { account_id: id, ...payload },
  });
  return {
    opened: (id: string) => ev("opened", id),
    deposited: (id: string, amount: number) => ev("deposited", id, { amount }),
    /** Filtered out by the projection. */
    noted: (id: string) => ev("noted", id),
  };
}

/** md5 over every row of the ledger's tables, in key order. */
export async function ledgerHash(db: Queryable, prefix: string): Promise<{ hash: string; rows: number }> {
  const { rows } = await db.query<{ hash: string; rows: number }>(`
    SELECT md5(coalesce((SELECT string_agg(a::text, '|' ORDER BY account_id) FROM ${prefix}_accounts a), '')
            || '#' || coalesce((SELECT string_agg(e::text, '|' ORDER BY event_id) FROM ${prefix}_entries e), '')) AS hash,
           (SELECT count(*) FROM ${prefix}_accounts)::int + (SELECT count(*) FROM ${prefix}_entries)::int AS rows`);
  return rows[0] as { hash: string; rows: number };
}

/** account_id → [deposits, balance] as the view holds it. */
export async function ledgerAccounts(db: Queryable, prefix: string): Promise<Map<string, [number, number]>> {
  const { rows } = await db.query<{ account_id: string; deposits: number; balance: string }>(
    `SELECT account_id, deposits, balance FROM ${prefix}_accounts`,
  );
  return new Map(rows.map((r) => [r.account_id, [r.deposits, Number(r.balance)]]));
}

/** Polls the DB until `name`'s checkpoint is at or past `position` (independent of the watcher under test). */
export async function untilCheckpoint(
  db: Queryable,
  name: string,
  position: Position,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const cp = (await readCheckpoints(db, [name])).get(name);
    if (cp && comparePositions(cp, position) >= 0) return;
    if (Date.now() > deadline) throw new Error(`${name} did not reach the position in ${timeoutMs} ms`);
    await sleep(10);
  }
}
