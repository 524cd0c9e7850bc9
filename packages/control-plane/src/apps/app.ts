// The app aggregate: its events, a pure evolve, and pure decisions.
import { KernelError, type NewEvent, type StoredEvent } from "@plfm/kernel";

export const APP = "app";

export interface AppState {
  exists: boolean;
  deleted: boolean;
  orgId: string;
  name: string;
  projectId: string | null;
  description: string | null;
  createdAt: Date | null;
  updatedAt: Date | null;
  version: number;
}

export const initialApp = (): AppState => ({
  exists: false,
  deleted: false,
  orgId: "",
  name: "",
  projectId: null,
  description: null,
  createdAt: null,
  updatedAt: null,
  version: 0,
});

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

export function evolveApp(state: AppState, e: StoredEvent): AppState {
  const p = e.payload as Record<string, unknown>;
  switch (e.eventType) {
    case "app.created":
      return {
        exists: true,
        deleted: false,
        orgId: String(p.org_id),
        name: String(p.name),
        projectId: str(p.project_id),
        description: str(p.description),
        createdAt: e.occurredAt,
        updatedAt: e.occurredAt,
        version: e.aggregateSeq,
      };
    case "app.updated":
      // An explicit null clears project_id / description; an absent key keeps it.
      return {
        ...state,
        ...(typeof p.name === "string" ? { name: p.name } : {}),
        ...("project_id" in p ? { projectId: str(p.project_id) } : {}),
        ...("description" in p ? { description: str(p.description) } : {}),
        updatedAt: e.occurredAt,
        version: e.aggregateSeq,
      };
    case "app.deleted":
      return { ...state, deleted: true, updatedAt: e.occurredAt, version: e.aggregateSeq };
    default:
      return { ...state, version: e.aggregateSeq };
  }
}

/** The API representation of an app (also the `apps` view row). */
export interface AppView {
  app_id: string;
  org_id: string;
  project_id: string | null;
  name: string;
  description: string | null;
  resource_version: number;
  created_at: string;
  updated_at: string;
}

export function appView(appId: string, s: AppState): AppView {
  return {
    app_id: appId,
    org_id: s.orgId,
    project_id: s.projectId,
    name: s.name,
    description: s.description,
    resource_version: s.version,
    created_at: (s.createdAt as Date).toISOString(),
    updated_at: (s.updatedAt as Date).toISOString(),
  };
}

/** A live app of this org, else 404 (an app of another org is indistinguishable from none). */
export function requireApp(state: AppState, orgId: string): void {
  if (!state.exists || state.deleted || state.orgId !== orgId) {
    throw new KernelError("not_found", "No such app.");
  }
}

function appEvent(appId: string, orgId: string, type: string, payload: Record<string, unknown>): NewEvent {
  return {
    aggregateType: APP,
    aggregateId: appId,
    eventType: type,
    orgId,
    appId,
    payload: { app_id: appId, org_id: orgId, ...payload },
  };
}

export interface CreateAppInput {
  name: string;
  description?: string | undefined;
  project_id?: string | undefined;
}

export function decideCreateApp(state: AppState, appId: string, orgId: string, input: CreateAppInput) {
  if (state.exists) throw new KernelError("conflict", "The app already exists.");
  return [
    appEvent(appId, orgId, "app.created", {
      name: input.name,
      ...(input.project_id !== undefined ? { project_id: input.project_id } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
    }),
  ];
}

export interface UpdateAppInput {
  name?: string | undefined;
  description?: string | null | undefined;
  project_id?: string | null | undefined;
  expected_version: number;
}

/** PATCH: `expected_version` must match; fields equal to the current ones are left out. */
export function decideUpdateApp(
  state: AppState,
  appId: string,
  orgId: string,
  change: UpdateAppInput,
): NewEvent[] {
  requireApp(state, orgId);
  if (change.expected_version !== state.version) {
    throw new KernelError(
      "version_conflict",
      `The app is at version ${state.version}, not ${change.expected_version}; reload and retry.`,
      // The client's view is stale: retrying the same request cannot succeed.
      { retryable: false },
    );
  }
  const payload: Record<string, unknown> = {};
  if (change.name !== undefined && change.name !== state.name) payload.name = change.name;
  if (change.project_id !== undefined && change.project_id !== state.projectId) {
    payload.project_id = change.project_id;
  }
  if (change.description !== undefined && change.description !== state.description) {
    payload.description = change.description;
  }
  if (Object.keys(payload).length === 0) return [];
  return [appEvent(appId, orgId, "app.updated", payload)];
}

/** DELETE: refused with 409 `conflict` while the app has envs (`liveEnvs` counted by the caller under a lock). */
export function decideDeleteApp(state: AppState, appId: string, orgId: string, liveEnvs: number) {
  requireApp(state, orgId);
  if (liveEnvs > 0) {
    throw new KernelError("conflict", `The app still has ${liveEnvs} env(s); delete them first.`, {
      extra: { blocked_by: "envs" },
    });
  }
  return [appEvent(appId, orgId, "app.deleted", {})];
}
