// The project commands' I/O: load, decide (pure, project.ts), claim names
// (unique per org), append.
import {
  append,
  evolvePending,
  findReplay,
  handleCommand,
  KernelError,
  newId,
  type Queryable,
  wakeReaders,
  withTransaction,
} from "@plfm/kernel";
// guards.ts rather than the apps index: it imports nothing back from tenancy
// but claims.ts, so no import cycle.
import { lockParent, projectHasApps } from "../apps/guards.ts";
import { CLAIM_SCOPE, claimName, releaseNames } from "./claims.ts";
import { type CommandEnv, type CommandOutcome, clockOf, metaOf } from "./commands.ts";
import {
  decideCreateProject,
  decideDeleteProject,
  decideUpdateProject,
  PROJECT,
  type ProjectView,
  projectAggregate,
  projectView,
} from "./project.ts";

/**
 * Whether any live app still references the project (spec platform.md §2.2:
 * delete is refused while apps reference it). Answered from the apps
 * context's command-side refs (app_project_refs), not its lagging view, under
 * the project's exclusive lock, which app commands joining a project take
 * shared: an app cannot join a project while it is being deleted. Call it
 * with the delete's transaction client; the lock lasts until COMMIT.
 */
export async function projectInUse(client: Queryable, projectId: string): Promise<boolean> {
  await lockParent(client, "project", projectId, "exclusive");
  return projectHasApps(client, projectId);
}

/** POST /orgs/{org}/projects. */
export async function createProject(
  env: CommandEnv,
  orgId: string,
  body: { name: string },
): Promise<CommandOutcome<ProjectView>> {
  const { pool, idempotency } = env;
  if (idempotency) {
    const replay = await findReplay(pool, idempotency);
    if (replay)
      return { response: replay.response as ProjectView, position: replay.position, replayed: true };
  }
  const projectId = newId("prj");
  const events = decideCreateProject({ orgId, projectId, name: body.name });
  const at = env.now.toISOString();
  const response: ProjectView = {
    project_id: projectId,
    org_id: orgId,
    name: body.name,
    resource_version: 1,
    created_at: at,
    updated_at: at,
  };
  try {
    const result = await withTransaction(pool, async (client) => {
      await claimName(client, CLAIM_SCOPE.project(orgId), body.name, projectId);
      return append(client, {
        meta: metaOf(env),
        events,
        expected: [{ aggregateType: PROJECT, aggregateId: projectId, seq: 0 }],
        ...(idempotency ? { idempotency: { ...idempotency, response } } : {}),
        clock: clockOf(env),
      });
    });
    wakeReaders(pool);
    if (result.replayed)
      return { response: result.response as ProjectView, position: result.position, replayed: true };
    return { response, position: result.position, replayed: false };
  } catch (err) {
    // A concurrent twin of this request may have claimed the name first.
    if (idempotency && err instanceof KernelError && err.code === "conflict") {
      const replay = await findReplay(pool, idempotency);
      if (replay)
        return { response: replay.response as ProjectView, position: replay.position, replayed: true };
    }
    throw err;
  }
}

/** PATCH /orgs/{org}/projects/{project}: rename, claiming the new name and freeing the old. */
export async function updateProject(
  env: CommandEnv,
  orgId: string,
  projectId: string,
  body: { name?: string | undefined; expected_version: number },
): Promise<CommandOutcome<ProjectView>> {
  const meta = metaOf(env);
  const result = await withTransaction(env.pool, async (client) => {
    const r = await handleCommand(client, {
      aggregate: projectAggregate,
      aggregateId: projectId,
      meta,
      clock: clockOf(env),
      maxAttempts: 1,
      ...(env.idempotency ? { idempotency: env.idempotency } : {}),
      decide: (state, version) => {
        const events = decideUpdateProject(state, { orgId, projectId, ...body });
        const next = evolvePending(projectAggregate, state, version, events, meta, env.now);
        return { events, response: projectView(projectId, next) };
      },
    });
    if (!r.replayed && r.events.length > 0 && body.name !== undefined) {
      await claimName(client, CLAIM_SCOPE.project(orgId), body.name, projectId);
      await releaseNames(client, CLAIM_SCOPE.project(orgId), projectId, body.name);
    }
    return r;
  });
  wakeReaders(env.pool);
  return { response: result.response, position: result.position, replayed: result.replayed };
}

/** DELETE /orgs/{org}/projects/{project}: soft delete; the name is free again. */
export async function deleteProject(
  env: CommandEnv,
  orgId: string,
  projectId: string,
): Promise<CommandOutcome<null>> {
  const result = await withTransaction(env.pool, async (client) => {
    const inUse = await projectInUse(client, projectId);
    const r = await handleCommand(client, {
      aggregate: projectAggregate,
      aggregateId: projectId,
      meta: metaOf(env),
      clock: clockOf(env),
      maxAttempts: 1,
      ...(env.idempotency ? { idempotency: env.idempotency } : {}),
      decide: (state) => ({
        events: decideDeleteProject(state, { orgId, projectId, inUse }),
        response: null,
      }),
    });
    if (!r.replayed) await releaseNames(client, CLAIM_SCOPE.project(orgId), projectId);
    return r;
  });
  wakeReaders(env.pool);
  return { response: null, position: result.position, replayed: result.replayed };
}
