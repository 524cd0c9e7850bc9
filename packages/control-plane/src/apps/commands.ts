// The app commands' I/O: lock, check, decide (pure, app.ts), claim names,
// append — all in one transaction (command-kit.ts).
import { evolvePending, handleCommand, KernelError, newId } from "@plfm/kernel";
import type { PoolClient } from "pg";
import { checkQuota } from "../tenancy/quotas.ts";
import {
  APP,
  type AppView,
  appView,
  type CreateAppInput,
  decideCreateApp,
  decideDeleteApp,
  decideUpdateApp,
  evolveApp,
  initialApp,
  type UpdateAppInput,
} from "./app.ts";
import {
  type CommandOutcome,
  type Ctx,
  claimName,
  commandMeta,
  fixedClock,
  releaseClaims,
  runCommand,
} from "./command-kit.ts";
import { appNameScope, countLiveEnvs, lockParent, projectInOrg } from "./guards.ts";

export const appAggregate = { aggregateType: APP, initial: initialApp, evolve: evolveApp };

/**
 * Records which project the app is in (command side, for the project's
 * delete check), after checking the project is live in the org. The shared
 * project lock keeps a concurrent project delete from missing this app.
 */
async function setProject(client: PoolClient, orgId: string, appId: string, projectId: string | null) {
  await client.query("DELETE FROM app_project_refs WHERE app_id = $1", [appId]);
  if (projectId === null) return;
  await lockParent(client, "project", projectId, "share");
  if (!(await projectInOrg(client, orgId, projectId))) {
    throw new KernelError("invalid_argument", "No such project in this organisation.", {
      details: [{ field: "project_id", code: "not_found", message: "no such project in this org" }],
    });
  }
  await client.query("INSERT INTO app_project_refs (app_id, project_id) VALUES ($1, $2)", [appId, projectId]);
}

export async function createApp(ctx: Ctx, body: CreateAppInput): Promise<CommandOutcome<AppView>> {
  const meta = commandMeta(ctx);
  const appId = newId("app");
  return runCommand(ctx.pool, ctx.idempotency, async (client) => {
    await checkQuota(client, ctx.orgId, "max_apps", 1);
    const r = await handleCommand(client, {
      aggregate: appAggregate,
      aggregateId: appId,
      meta,
      clock: fixedClock(ctx.now),
      maxAttempts: 1,
      ...(ctx.idempotency ? { idempotency: ctx.idempotency } : {}),
      decide: (state, version) => {
        const events = decideCreateApp(state, appId, ctx.orgId, body);
        const next = evolvePending(appAggregate, state, version, events, meta, ctx.now);
        return { events, response: appView(appId, next) };
      },
    });
    if (!r.replayed) {
      if (body.project_id !== undefined) await setProject(client, ctx.orgId, appId, body.project_id);
      await claimName(client, appNameScope(ctx.orgId), body.name, appId);
    }
    return r;
  });
}

export async function updateApp(
  ctx: Ctx,
  appId: string,
  body: UpdateAppInput,
): Promise<CommandOutcome<AppView>> {
  const meta = commandMeta(ctx);
  return runCommand(ctx.pool, ctx.idempotency, async (client) => {
    const r = await handleCommand(client, {
      aggregate: appAggregate,
      aggregateId: appId,
      meta,
      clock: fixedClock(ctx.now),
      maxAttempts: 1,
      ...(ctx.idempotency ? { idempotency: ctx.idempotency } : {}),
      decide: (state, version) => {
        const events = decideUpdateApp(state, appId, ctx.orgId, body);
        const next = evolvePending(appAggregate, state, version, events, meta, ctx.now);
        return { events, response: appView(appId, next) };
      },
    });
    if (!r.replayed) {
      const changed = r.events[0]?.payload ?? {};
      if ("project_id" in changed) await setProject(client, ctx.orgId, appId, body.project_id ?? null);
      if ("name" in changed) {
        await claimName(client, appNameScope(ctx.orgId), body.name as string, appId);
        await releaseClaims(client, appNameScope(ctx.orgId), appId, body.name);
      }
    }
    return r;
  });
}

export async function deleteApp(ctx: Ctx, appId: string): Promise<CommandOutcome<null>> {
  const meta = commandMeta(ctx);
  return runCommand(ctx.pool, ctx.idempotency, async (client) => {
    // Exclusive: no env may be created under this app until we commit.
    await lockParent(client, "app", appId, "exclusive");
    const liveEnvs = await countLiveEnvs(client, appId);
    const r = await handleCommand<ReturnType<typeof initialApp>, null>(client, {
      aggregate: appAggregate,
      aggregateId: appId,
      meta,
      clock: fixedClock(ctx.now),
      maxAttempts: 1,
      ...(ctx.idempotency ? { idempotency: ctx.idempotency } : {}),
      decide: (state) => ({ events: decideDeleteApp(state, appId, ctx.orgId, liveEnvs), response: null }),
    });
    if (!r.replayed) {
      await releaseClaims(client, appNameScope(ctx.orgId), appId);
      await client.query("DELETE FROM app_project_refs WHERE app_id = $1", [appId]);
    }
    return r;
  });
}
