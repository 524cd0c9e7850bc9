// The route commands' I/O: lock, gather facts, decide (pure, route.ts),
// append, then the command-side rows (hostname claim, port claim, audit) in
// the same transaction, so a refused claim rolls the events back too.
import {
  evolvePending,
  handleCommand,
  KernelError,
  newId,
  type PoolClient,
  type Queryable,
  sqlState,
  UNIQUE_VIOLATION,
} from "@plfm/kernel";
import { checkQuota } from "../tenancy/quotas.ts";
import {
  audit,
  type CommandOutcome,
  envHasIpv4,
  fixedClock,
  lockEnvNetworking,
  lockLiveEnv,
  lockPort,
  metaOf,
  type NetCtx,
  replayUnderLock,
  runCommand,
} from "./command.ts";
import { type PortClaim, portConflict } from "./ports.ts";
import {
  decideCreateRoute,
  decideDeleteRoute,
  decideUpdateRoute,
  evolveRoute,
  initialRoute,
  ROUTE,
  type RouteBackend,
  type RouteFields,
  type RouteState,
  type RouteView,
  routeView,
} from "./route.ts";

export const routeAggregate = { aggregateType: ROUTE, initial: initialRoute, evolve: evolveRoute };
/** name_claims scope of route hostnames: one namespace for every org (spec §8.3). */
export const HOSTNAME_SCOPE = "hostname";

/** One command on a route: decide against its state, answer with the view it leads to. */
function onRoute<R>(
  client: PoolClient,
  ctx: NetCtx,
  routeId: string,
  decide: (s: RouteState) => ReturnType<typeof decideCreateRoute>,
  respond: (next: RouteState) => R,
) {
  const meta = metaOf(ctx);
  return handleCommand(client, {
    aggregate: routeAggregate,
    aggregateId: routeId,
    meta,
    clock: fixedClock(ctx.now),
    maxAttempts: 1,
    ...(ctx.idempotency ? { idempotency: ctx.idempotency } : {}),
    decide: (state, version) => {
      const events = decide(state);
      return {
        events,
        response: respond(evolvePending(routeAggregate, state, version, events, meta, ctx.now)),
      };
    },
  });
}

async function claimHostname(client: Queryable, hostname: string, routeId: string): Promise<void> {
  try {
    await client.query("INSERT INTO name_claims (scope, name, owner_id) VALUES ($1, $2, $3)", [
      HOSTNAME_SCOPE,
      hostname,
      routeId,
    ]);
  } catch (err) {
    if (sqlState(err) !== UNIQUE_VIOLATION) throw err;
    throw new KernelError("hostname_in_use", `The hostname '${hostname}' is already used by a route.`, {
      details: [{ field: "hostname", code: "hostname_in_use", message: "already used by a route" }],
    });
  }
}

/** 409 `port_in_use` unless `claim` fits beside the routes on its port (caller holds the port lock). */
async function checkPort(client: Queryable, claim: PortClaim): Promise<void> {
  const { rows } = await client.query<{
    route_id: string;
    env_id: string;
    listen_port: number;
    protocol_hint: PortClaim["protocolHint"];
    ipv4_required: boolean;
  }>(
    "SELECT route_id, env_id, listen_port, protocol_hint, ipv4_required FROM route_claims WHERE listen_port = $1",
    [claim.listenPort],
  );
  const existing = rows.map((r) => ({
    routeId: r.route_id,
    envId: r.env_id,
    listenPort: r.listen_port,
    protocolHint: r.protocol_hint,
    ipv4Required: r.ipv4_required,
  }));
  const why = portConflict(claim, existing);
  if (why !== null) {
    throw new KernelError("port_in_use", why, {
      details: [{ field: "listen_port", code: "port_in_use", message: why }],
    });
  }
}

export async function createRoute(ctx: NetCtx, fields: RouteFields): Promise<CommandOutcome<RouteView>> {
  const routeId = newId("rt");
  const { owner } = ctx;
  return runCommand(ctx, async (client) => {
    await lockLiveEnv(client, owner);
    await lockEnvNetworking(client, owner.envId);
    await lockPort(client, fields.listen_port);
    const twin = await replayUnderLock<RouteView>(client, ctx);
    if (twin) return twin;
    const hasIpv4 = await envHasIpv4(client, owner.envId);
    await checkQuota(client, owner.orgId, "max_routes", 1);
    await checkQuota(client, owner.orgId, "max_hostnames", 1);
    // Spec §8.3: routes on a port other than 443 count toward max_public_ports.
    await checkQuota(client, owner.orgId, "max_public_ports", fields.listen_port === 443 ? 0 : 1);
    const r = await onRoute(
      client,
      ctx,
      routeId,
      (s) => decideCreateRoute(s, routeId, owner, fields, hasIpv4),
      (next) => routeView(routeId, next),
    );
    if (r.replayed) return r;
    await claimHostname(client, fields.hostname, routeId);
    const claim: PortClaim = {
      routeId,
      envId: owner.envId,
      listenPort: fields.listen_port,
      protocolHint: fields.protocol_hint,
      ipv4Required: fields.ipv4_required,
    };
    await checkPort(client, claim);
    await client.query(
      `INSERT INTO route_claims (route_id, org_id, env_id, listen_port, protocol_hint, ipv4_required)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [routeId, owner.orgId, owner.envId, fields.listen_port, fields.protocol_hint, fields.ipv4_required],
    );
    await audit(client, ctx, "route.created", { type: ROUTE, id: routeId }, { ...fields });
    return r;
  });
}

export async function updateRoute(
  ctx: NetCtx,
  routeId: string,
  change: Partial<RouteBackend> & { expected_version: number },
): Promise<CommandOutcome<RouteView>> {
  return runCommand(ctx, async (client) => {
    await lockEnvNetworking(client, ctx.owner.envId);
    const hasIpv4 = await envHasIpv4(client, ctx.owner.envId);
    const r = await onRoute(
      client,
      ctx,
      routeId,
      (s) => decideUpdateRoute(s, routeId, ctx.owner, change, hasIpv4),
      (next) => routeView(routeId, next),
    );
    if (r.replayed || r.events.length === 0) return r;
    const changed = (r.events[0]?.payload ?? {}) as Record<string, unknown>;
    if ("ipv4_required" in changed) {
      // A tcp_raw route moves between the shared IPv6 and its env's IPv4 alone.
      const v = r.response;
      await lockPort(client, v.listen_port);
      await checkPort(client, {
        routeId,
        envId: v.env_id,
        listenPort: v.listen_port,
        protocolHint: v.protocol_hint,
        ipv4Required: v.ipv4_required,
      });
      await client.query("UPDATE route_claims SET ipv4_required = $2 WHERE route_id = $1", [
        routeId,
        v.ipv4_required,
      ]);
    }
    const { route_id: _r, org_id: _o, env_id: _e, ...details } = changed;
    await audit(client, ctx, "route.updated", { type: ROUTE, id: routeId }, details);
    return r;
  });
}

export async function deleteRoute(ctx: NetCtx, routeId: string): Promise<CommandOutcome<null>> {
  return runCommand(ctx, async (client) => {
    await lockEnvNetworking(client, ctx.owner.envId);
    const r = await onRoute(
      client,
      ctx,
      routeId,
      (s) => decideDeleteRoute(s, routeId, ctx.owner),
      () => null,
    );
    if (r.replayed) return r;
    const hostname = (r.events[0]?.payload as { hostname?: string } | undefined)?.hostname;
    await client.query("DELETE FROM name_claims WHERE scope = $1 AND owner_id = $2", [
      HOSTNAME_SCOPE,
      routeId,
    ]);
    await client.query("DELETE FROM route_claims WHERE route_id = $1", [routeId]);
    await audit(client, ctx, "route.deleted", { type: ROUTE, id: routeId }, { hostname });
    return r;
  });
}
