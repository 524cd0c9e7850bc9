// The IPv4 add-on commands' I/O. An allocation row (unique address among
// live rows, one per env) is written in the transaction that appends
// env.ipv4_addon_enabled, so an address is never handed out twice even when
// the pool lock is bypassed; the pool lock just keeps concurrent enables
// from racing for the same lowest address.
import { evolvePending, handleCommand, newId, type PoolClient } from "@plfm/kernel";
import { checkQuota } from "../tenancy/quotas.ts";
import {
  audit,
  type CommandOutcome,
  envHasIpv4,
  fixedClock,
  lockEnvNetworking,
  lockIpv4Pool,
  lockLiveEnv,
  metaOf,
  type NetCtx,
  replayUnderLock,
  runCommand,
} from "./command.ts";
import {
  decideDisableIpv4,
  decideEnableIpv4,
  ENV,
  type EnvIpv4State,
  type EnvNetworkingView,
  evolveEnvIpv4,
  initialEnvIpv4,
  networkingView,
} from "./ipv4.ts";
import { type Ipv4Range, ipv4ToNumber, numberToIpv4, pickFreeAddress } from "./ipv4-pool.ts";

export const envIpv4Aggregate = { aggregateType: ENV, initial: initialEnvIpv4, evolve: evolveEnvIpv4 };

/** A released address goes to another env only after this long (spec §8.1). */
export const IPV4_COOLDOWN_MS = 24 * 60 * 60 * 1000;

function onEnv<R>(
  client: PoolClient,
  ctx: NetCtx,
  decide: (s: EnvIpv4State) => ReturnType<typeof decideEnableIpv4>,
  respond: (next: EnvIpv4State) => R,
) {
  const meta = metaOf(ctx);
  return handleCommand(client, {
    aggregate: envIpv4Aggregate,
    aggregateId: ctx.owner.envId,
    meta,
    clock: fixedClock(ctx.now),
    maxAttempts: 1,
    ...(ctx.idempotency ? { idempotency: ctx.idempotency } : {}),
    decide: (state, version) => {
      const events = decide(state);
      return {
        events,
        response: respond(evolvePending(envIpv4Aggregate, state, version, events, meta, ctx.now)),
      };
    },
  });
}

/** The lowest pool address neither live nor cooling down for another env (caller holds the pool lock). */
async function offerAddress(client: PoolClient, pool: readonly Ipv4Range[], envId: string, now: Date) {
  const { rows } = await client.query<{ address: string }>(
    `SELECT host(address) AS address FROM ipv4_allocations
      WHERE released_at IS NULL OR (released_at > $1 AND env_id <> $2)`,
    [new Date(now.getTime() - IPV4_COOLDOWN_MS), envId],
  );
  const taken = new Set(rows.map((r) => ipv4ToNumber(r.address)).filter((n): n is number => n !== null));
  const n = pickFreeAddress(pool, taken);
  return n === null ? null : { allocationId: newId("ip4"), address: numberToIpv4(n) };
}

export async function enableIpv4(
  ctx: NetCtx,
  pool: readonly Ipv4Range[],
): Promise<CommandOutcome<EnvNetworkingView>> {
  const { owner } = ctx;
  return runCommand(ctx, async (client) => {
    await lockLiveEnv(client, owner);
    await lockEnvNetworking(client, owner.envId);
    const twin = await replayUnderLock<EnvNetworkingView>(client, ctx);
    if (twin) return twin;
    // Only a new allocation counts: enabling an enabled env changes nothing.
    const enabled = await envHasIpv4(client, owner.envId);
    if (!enabled) await checkQuota(client, owner.orgId, "max_ipv4_allocations", 1);
    await lockIpv4Pool(client);
    const offer = await offerAddress(client, pool, owner.envId, ctx.now);
    const r = await onEnv(
      client,
      ctx,
      (s) => decideEnableIpv4(s, owner, offer, ctx.now),
      (next) => networkingView(owner.envId, next),
    );
    if (r.replayed || r.events.length === 0 || offer === null) return r;
    await client.query(
      `INSERT INTO ipv4_allocations (allocation_id, address, org_id, env_id, allocated_at)
       VALUES ($1, $2, $3, $4, $5)`,
      [offer.allocationId, offer.address, owner.orgId, owner.envId, ctx.now],
    );
    await audit(
      client,
      ctx,
      "env.ipv4_addon_enabled",
      { type: ENV, id: owner.envId },
      {
        allocation_id: offer.allocationId,
        ipv4_address: offer.address,
      },
    );
    return r;
  });
}

export async function disableIpv4(ctx: NetCtx, force: boolean): Promise<CommandOutcome<EnvNetworkingView>> {
  const { owner } = ctx;
  return runCommand(ctx, async (client) => {
    await lockEnvNetworking(client, owner.envId);
    const { rows } = await client.query<{ route_id: string }>(
      "SELECT route_id FROM route_claims WHERE env_id = $1 AND ipv4_required ORDER BY route_id",
      [owner.envId],
    );
    const requiring = rows.map((r) => r.route_id);
    const r = await onEnv(
      client,
      ctx,
      (s) => decideDisableIpv4(s, owner, requiring, force, ctx.now),
      (next) => networkingView(owner.envId, next),
    );
    if (r.replayed) return r;
    const { rows: released } = await client.query<{ allocation_id: string; address: string }>(
      `UPDATE ipv4_allocations SET released_at = $2 WHERE env_id = $1 AND released_at IS NULL
       RETURNING allocation_id, host(address) AS address`,
      [owner.envId, ctx.now],
    );
    await audit(
      client,
      ctx,
      "env.ipv4_addon_disabled",
      { type: ENV, id: owner.envId },
      {
        allocation_id: released[0]?.allocation_id ?? null,
        ipv4_address: released[0]?.address ?? null,
        forced: force && requiring.length > 0,
        ...(force && requiring.length > 0 ? { ipv4_required_route_ids: requiring } : {}),
      },
    );
    return r;
  });
}
