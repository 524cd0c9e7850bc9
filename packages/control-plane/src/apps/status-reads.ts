// Reads behind env status (spec platform.md §4.6) and the scheduler's `why`:
// the instances view counted per (process type, release), the env_scheduling
// view, the routes view and the scheduler's own scheduler_status rows. These
// are read models of several contexts; joining them here, on the read side
// only, is what lets one answer show desired against current.
import type { Queryable } from "@plfm/kernel";
import type { EnvView } from "./env.ts";
import { type EnvPath, readApp, readEnv, readScale } from "./reads.ts";
import { desiredReleases, lastDeploy } from "./release-reads.ts";
import {
  type InstanceTally,
  type ProcessBlock,
  type ProcessStatus,
  processesFromScale,
  type RouteStatus,
  routeStatuses,
} from "./status.ts";

/** A failure older than this (and not of the latest deploy) no longer counts as `failed`. */
export const FAILED_WINDOW_MS = 10 * 60 * 1000;

/**
 * Counts per (process type, release) under the rules of {@link InstanceTally}.
 * Stopped instances are skipped in the WHERE clause; they are most of an
 * old env's rows and count for nothing.
 */
export async function instanceTallies(
  db: Queryable,
  envId: string,
  latestDeployId: string | null,
  failedSince: Date,
): Promise<InstanceTally[]> {
  const { rows } = await db.query<InstanceTally>(
    `SELECT process_type, release_id,
            count(*) FILTER (WHERE status = 'ready' AND desired_state = 'running')::int AS ready,
            count(*) FILTER (WHERE status IN ('allocated', 'preparing', 'booting')
                               AND desired_state = 'running')::int AS booting,
            count(*) FILTER (WHERE (status = 'draining' OR desired_state = 'draining')
                               AND status <> 'failed' AND desired_state <> 'stopped')::int AS draining,
            count(*) FILTER (WHERE status = 'failed'
                               AND (deploy_id = $2 OR updated_at >= $3))::int AS failed,
            count(*) FILTER (WHERE status <> 'failed' AND desired_state <> 'stopped')::int AS live
       FROM instances
      WHERE env_id = $1 AND status <> 'stopped'
      GROUP BY process_type, release_id
      ORDER BY process_type COLLATE "C", release_id COLLATE "C"`,
    [envId, latestDeployId, failedSince],
  );
  return rows;
}

/** The env's current blocks (env_scheduling rows still blocked). */
export async function processBlocks(db: Queryable, envId: string): Promise<ProcessBlock[]> {
  const { rows } = await db.query<ProcessBlock>(
    `SELECT process_type, reason, detail FROM env_scheduling
      WHERE env_id = $1 AND blocked ORDER BY process_type COLLATE "C"`,
    [envId],
  );
  return rows;
}

type RouteRow = Omit<RouteStatus, "status" | "backend_count"> & { backend_process_type: string };

/** The env's live routes by id. */
export async function envRoutes(db: Queryable, envId: string): Promise<RouteRow[]> {
  const { rows } = await db.query<RouteRow>(
    `SELECT route_id, hostname, listen_port, backend_port, backend_process_type FROM routes
      WHERE env_id = $1 AND NOT is_deleted ORDER BY route_id`,
    [envId],
  );
  return rows;
}

/**
 * The scheduler's last word on the env: the latest pass over any of its
 * groups, and the error of the most recently reconciled group that has one
 * (a group keeps its error until its own next pass clears it).
 */
export async function lastReconcile(
  db: Queryable,
  envId: string,
): Promise<{ last_reconcile_at: string | null; last_error: string | null }> {
  const { rows } = await db.query<{ at: Date | null; error: string | null }>(
    `SELECT max(last_reconcile_at) AS at,
            (array_agg(last_error ORDER BY last_reconcile_at DESC) FILTER (WHERE last_error IS NOT NULL))[1] AS error
       FROM scheduler_status WHERE env_id = $1`,
    [envId],
  );
  const r = rows[0];
  return { last_reconcile_at: r?.at ? r.at.toISOString() : null, last_error: r?.error ?? null };
}

export interface EnvStatusView {
  env_id: string;
  env_name: string;
  app_id: string;
  app_name: string;
  status: "healthy" | "degraded" | "failing";
  processes: ProcessStatus[];
  routes: RouteStatus[];
  last_deploy: { deploy_id: string; status: string; message: string | null } | null;
  last_reconcile_at: string | null;
  last_error: string | null;
}

/** An env's processes (desired against current, with blocks) and the reads around them; 404 for a foreign env. */
export async function readEnvProcesses(
  db: Queryable,
  p: EnvPath,
  now: Date,
): Promise<{
  env: EnvView;
  appName: string;
  processes: ProcessStatus[];
  deploy: EnvStatusView["last_deploy"];
}> {
  const [env, parent, scale, desired, deploy, blocks] = await Promise.all([
    readEnv(db, p),
    readApp(db, p.org, p.app),
    readScale(db, p),
    desiredReleases(db, p.env),
    lastDeploy(db, p.env),
    processBlocks(db, p.env),
  ]);
  const failedSince = new Date(now.getTime() - FAILED_WINDOW_MS);
  const tallies = await instanceTallies(db, p.env, deploy?.deploy_id ?? null, failedSince);
  return {
    env,
    appName: parent.name,
    processes: processesFromScale(scale.processes, desired, tallies, blocks),
    deploy,
  };
}

/** GET E/status's body, minus the one-word health (the caller's pure envHealth). */
export async function readEnvStatusParts(
  db: Queryable,
  p: EnvPath,
  now: Date,
): Promise<Omit<EnvStatusView, "status">> {
  const { env, appName, processes, deploy } = await readEnvProcesses(db, p, now);
  const [routes, reconcile] = await Promise.all([envRoutes(db, p.env), lastReconcile(db, p.env)]);
  return {
    env_id: env.env_id,
    env_name: env.name,
    app_id: env.app_id,
    app_name: appName,
    processes,
    routes: routeStatuses(routes, processes),
    last_deploy: deploy,
    ...reconcile,
  };
}
