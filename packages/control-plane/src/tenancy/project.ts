// The project aggregate: an optional grouping of apps inside an org (not a
// security boundary). Its state, a pure evolve, and pure decisions.
import { KernelError, type NewEvent, type StoredEvent } from "@plfm/kernel";

export const PROJECT = "project";

export interface ProjectState {
  exists: boolean;
  deleted: boolean;
  orgId: string;
  name: string;
  createdAt: Date | null;
  updatedAt: Date | null;
  version: number;
}

export const initialProject = (): ProjectState => ({
  exists: false,
  deleted: false,
  orgId: "",
  name: "",
  createdAt: null,
  updatedAt: null,
  version: 0,
});

export function evolveProject(state: ProjectState, e: StoredEvent): ProjectState {
  const p = e.payload as Record<string, unknown>;
  const at = { updatedAt: e.occurredAt, version: e.aggregateSeq };
  switch (e.eventType) {
    case "project.created":
      return {
        exists: true,
        deleted: false,
        orgId: String(p.org_id),
        name: String(p.name),
        createdAt: e.occurredAt,
        ...at,
      };
    case "project.updated":
      return { ...state, ...(typeof p.name === "string" ? { name: p.name } : {}), ...at };
    case "project.deleted":
      return { ...state, deleted: true, ...at };
    default:
      return { ...state, version: e.aggregateSeq };
  }
}

export const projectAggregate = { aggregateType: PROJECT, initial: initialProject, evolve: evolveProject };

/** The API representation of a project (also the projection's row). */
export interface ProjectView {
  project_id: string;
  org_id: string;
  name: string;
  resource_version: number;
  created_at: string;
  updated_at: string;
}

export function projectView(projectId: string, s: ProjectState): ProjectView {
  return {
    project_id: projectId,
    org_id: s.orgId,
    name: s.name,
    resource_version: s.version,
    created_at: (s.createdAt as Date).toISOString(),
    updated_at: (s.updatedAt as Date).toISOString(),
  };
}

export function decideCreateProject(input: { orgId: string; projectId: string; name: string }): NewEvent[] {
  const { orgId, projectId, name } = input;
  return [
    {
      aggregateType: PROJECT,
      aggregateId: projectId,
      eventType: "project.created",
      orgId,
      payload: { org_id: orgId, project_id: projectId, name },
    },
  ];
}

/** A project of another org, or a deleted one, is not found. */
function requireProject(state: ProjectState, orgId: string): void {
  if (!state.exists || state.deleted || state.orgId !== orgId) {
    throw new KernelError("not_found", "No such project.");
  }
}

/** PATCH: `expected_version` must match; an unchanged name appends nothing. */
export function decideUpdateProject(
  state: ProjectState,
  input: { orgId: string; projectId: string; name?: string | undefined; expected_version: number },
): NewEvent[] {
  requireProject(state, input.orgId);
  if (input.expected_version !== state.version) {
    throw new KernelError(
      "version_conflict",
      `The project is at version ${state.version}, not ${input.expected_version}; reload and retry.`,
    );
  }
  if (input.name === undefined || input.name === state.name) return [];
  return [
    {
      aggregateType: PROJECT,
      aggregateId: input.projectId,
      eventType: "project.updated",
      orgId: input.orgId,
      payload: { org_id: input.orgId, project_id: input.projectId, name: input.name },
    },
  ];
}

/** DELETE: refused with `conflict` while apps reference the project (`inUse`, loaded by the command). */
export function decideDeleteProject(
  state: ProjectState,
  input: { orgId: string; projectId: string; inUse: boolean },
): NewEvent[] {
  requireProject(state, input.orgId);
  if (input.inUse) {
    throw new KernelError("conflict", "Apps still belong to this project; move or delete them first.");
  }
  return [
    {
      aggregateType: PROJECT,
      aggregateId: input.projectId,
      eventType: "project.deleted",
      orgId: input.orgId,
      payload: { org_id: input.orgId, project_id: input.projectId },
    },
  ];
}
