// The env and scale commands' I/O; the decisions are pure (env.ts).
import { evolvePending, handleCommand, loadAggregate, type NewEvent, newId } from "@plfm/kernel";
import type { PoolClient } from "pg";
import { checkQuota } from "../tenancy/quotas.ts";
import { requireApp } from "./app.ts";
import {
  type CommandOutcome,
  type Ctx,
  claimName,
  commandMeta,
  fixedClock,
  releaseClaims,
  runCommand,
} from "./command-kit.ts";
import { appAggregate } from "./commands.ts";
import {
  decideCreateEnv,
  decideDeleteEnv,
  decideSetScale,
  decideUpdateEnv,
  ENV,
  type EnvState,
  type EnvView,
  envView,
  evolveEnv,
  initialEnv,
  type ProcessScale,
  type ScaleView,
  scaleView,
} from "./env.ts";
import { envDeletionBlocker, envNameScope, lockParent, unknownProcessTypes } from "./guards.ts";

export const envAggregate = { aggregateType: ENV, initial: initialEnv, evolve: evolveEnv };

/** One env command on `client`: decide against the env's state, respond from the state it leads to. */
function onEnv<R>(
  client: PoolClient,
  ctx: Ctx,
  envId: string,
  decide: (state: EnvState) => NewEvent[],
  respond: (next: EnvState) => R,
) {
  const meta = commandMeta(ctx);
  return handleCommand(client, {
    aggregate: envAggregate,
    aggregateId: envId,
    meta,
    clock: fixedClock(ctx.now),
    maxAttempts: 1,
    ...(ctx.idempotency ? { idempotency: ctx.idempotency } : {}),
    decide: (state, version) => {
      const events = decide(state);
      return {
        events,
        response: respond(evolvePending(envAggregate, state, version, events, meta, ctx.now)),
      };
    },
  });
}

export async function createEnv(
  ctx: Ctx,
  appId: string,
  body: { name: string },
): Promise<CommandOutcome<EnvView>> {
  const envId = newId("env");
  const owner = { orgId: ctx.orgId, appId };
  return runCommand(ctx.pool, ctx.idempotency, async (client) => {
    // Shared: envs of one app may be created together, but not while it is being deleted.
    // Lock order: the app's lock, then the quota's (checkQuota).
    await lockParent(client, "app", appId, "share");
    requireApp((await loadAggregate(client, appAggregate, appId)).state, ctx.orgId);
    await checkQuota(client, ctx.orgId, "max_envs", 1);
    const r = await onEnv(
      client,
      ctx,
      envId,
      (s) => decideCreateEnv(s, envId, owner, body.name),
      (next) => envView(envId, next),
    );
    if (!r.replayed) await claimName(client, envNameScope(appId), body.name, envId);
    return r;
  });
}

export async function updateEnv(
  ctx: Ctx,
  appId: string,
  envId: string,
  body: { name?: string | undefined; expected_version: number },
): Promise<CommandOutcome<EnvView>> {
  const owner = { orgId: ctx.orgId, appId };
  return runCommand(ctx.pool, ctx.idempotency, async (client) => {
    const r = await onEnv(
      client,
      ctx,
      envId,
      (s) => decideUpdateEnv(s, envId, owner, body),
      (next) => envView(envId, next),
    );
    if (!r.replayed && r.events.length > 0 && body.name !== undefined) {
      await claimName(client, envNameScope(appId), body.name, envId);
      await releaseClaims(client, envNameScope(appId), envId, body.name);
    }
    return r;
  });
}

export async function deleteEnv(ctx: Ctx, appId: string, envId: string): Promise<CommandOutcome<null>> {
  const owner = { orgId: ctx.orgId, appId };
  return runCommand(ctx.pool, ctx.idempotency, async (client) => {
    // Exclusive: children (routes, attachments, IPv4) take this lock shared while they are created.
    await lockParent(client, "env", envId, "exclusive");
    const blocker = await envDeletionBlocker(client, envId);
    const r = await onEnv(
      client,
      ctx,
      envId,
      (s) => decideDeleteEnv(s, envId, owner, blocker),
      () => null,
    );
    if (!r.replayed) await releaseClaims(client, envNameScope(appId), envId);
    return r;
  });
}

export async function setScale(
  ctx: Ctx,
  appId: string,
  envId: string,
  body: { processes: ProcessScale[]; expected_version: number },
): Promise<CommandOutcome<ScaleView>> {
  const owner = { orgId: ctx.orgId, appId };
  const types = body.processes.map((p) => p.process_type);
  return runCommand(ctx.pool, ctx.idempotency, async (client) => {
    const unknown = await unknownProcessTypes(client, { ...owner, envId }, types);
    return onEnv(
      client,
      ctx,
      envId,
      (s) => decideSetScale(s, envId, owner, body, unknown),
      (next) => scaleView(envId, next),
    );
  });
}
