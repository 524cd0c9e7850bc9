// The release and deploy commands' I/O; the decisions are pure (release.ts, deploy.ts).
import { append, type CommandResult, evolvePending, loadAggregate, newId } from "@plfm/kernel";
import type { PoolClient } from "pg";
import { requireApp } from "./app.ts";
import { type CommandOutcome, type Ctx, commandMeta, runCommand } from "./command-kit.ts";
import { appAggregate } from "./commands.ts";
import { type DeployKind, type DeployView, decideDeploy, deployAggregate, deployView } from "./deploy.ts";
import { requireEnv } from "./env.ts";
import { envAggregate } from "./env-commands.ts";
import { lockParent } from "./guards.ts";
import {
  type CreateReleaseRequest,
  checkRelease,
  decideCreateRelease,
  type ReleaseView,
  releaseAggregate,
  releaseView,
} from "./release.ts";

/** Appends a decision's events with the idempotency record; a replay answers as before. */
async function appendDecision<R>(
  client: PoolClient,
  ctx: Ctx,
  events: Parameters<typeof append>[1]["events"],
  expected: Parameters<typeof append>[1]["expected"],
  response: R,
): Promise<CommandResult<R>> {
  const r = await append(client, {
    meta: commandMeta(ctx),
    events,
    ...(expected ? { expected } : {}),
    ...(ctx.idempotency ? { idempotency: { ...ctx.idempotency, response } } : {}),
    clock: { now: () => ctx.now },
  });
  if (r.replayed) return { replayed: true, response: r.response as R, position: r.position };
  return { replayed: false, response, events: r.events, position: r.position };
}

/** POST releases: checks are pure and run before any I/O; the app must be live. */
export async function createRelease(
  ctx: Ctx,
  appId: string,
  body: CreateReleaseRequest,
): Promise<CommandOutcome<ReleaseView>> {
  const content = checkRelease(body);
  const releaseId = newId("rel");
  const owner = { orgId: ctx.orgId, appId };
  return runCommand(ctx.pool, ctx.idempotency, async (client) => {
    // Shared: releases may be created together, but not while the app is being deleted.
    await lockParent(client, "app", appId, "share");
    requireApp((await loadAggregate(client, appAggregate, appId)).state, ctx.orgId);
    const { state, version } = await loadAggregate(client, releaseAggregate, releaseId);
    const events = decideCreateRelease(state, releaseId, owner, content);
    const next = evolvePending(releaseAggregate, state, version, events, commandMeta(ctx), ctx.now);
    return appendDecision(
      client,
      ctx,
      events,
      [{ aggregateType: "release", aggregateId: releaseId, seq: version }],
      releaseView(releaseId, next),
    );
  });
}

/**
 * POST deploys / rollbacks: `deploy.created` and the env's
 * `env.desired_release_set` events in one append (compliance 34). The env is
 * expected at the version read, so two deploys racing on one env serialise
 * (the loser reruns from fresh state in runCommand).
 */
export async function createDeploy(
  ctx: Ctx,
  path: { appId: string; envId: string },
  body: { release_id: string; process_types?: string[] | undefined },
  kind: DeployKind,
): Promise<CommandOutcome<DeployView>> {
  const deployId = newId("dep");
  return runCommand(ctx.pool, ctx.idempotency, async (client) => {
    // Shared: the env cannot be deleted under a deploy being created.
    await lockParent(client, "env", path.envId, "share");
    const env = await loadAggregate(client, envAggregate, path.envId);
    requireEnv(env.state, ctx.orgId, path.appId);
    const release = await loadAggregate(client, releaseAggregate, body.release_id);
    const events = decideDeploy(release.state, {
      deployId,
      orgId: ctx.orgId,
      appId: path.appId,
      envId: path.envId,
      kind,
      releaseId: body.release_id,
      processTypes: body.process_types,
      at: ctx.now,
    });
    // evolvePending folds only the deploy's own events.
    const next = evolvePending(
      deployAggregate,
      deployAggregate.initial(),
      0,
      events,
      commandMeta(ctx),
      ctx.now,
    );
    return appendDecision(
      client,
      ctx,
      events,
      [
        { aggregateType: "deploy", aggregateId: deployId, seq: 0 },
        { aggregateType: "env", aggregateId: path.envId, seq: env.version },
      ],
      deployView(deployId, next),
    );
  });
}
