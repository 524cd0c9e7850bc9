import { KernelError } from "@plfm/kernel";
import type { FastifyInstance } from "fastify";
import { type Static, Type } from "typebox";
import { PageQuery, pageAfter, toPage } from "../http/pagination.ts";
import { addRoute, type RouteDeps } from "../http/route.ts";
import type { ProjectView } from "./project.ts";
import { createProject, deleteProject, updateProject } from "./project-commands.ts";
import {
  commandEnv,
  ExpectedVersion,
  Name,
  OrgId,
  OrgParams,
  PageOf,
  ProjectId,
  Timestamp,
} from "./schemas.ts";

const ProjectParams = Type.Object({ org: OrgId, project: ProjectId }, { additionalProperties: false });
const CreateProjectBody = Type.Object({ name: Name }, { additionalProperties: false });
const PatchProjectBody = Type.Object(
  { name: Type.Optional(Name), expected_version: ExpectedVersion },
  { additionalProperties: false },
);
const Project = Type.Object({
  project_id: Type.String(),
  org_id: Type.String(),
  name: Type.String(),
  resource_version: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const PROJECT_PROJECTIONS = ["projects"];
const COLUMNS = "project_id, org_id, name, resource_version, created_at, updated_at";

interface ProjectRow extends Omit<ProjectView, "created_at" | "updated_at"> {
  created_at: Date;
  updated_at: Date;
}
const toView = (r: ProjectRow): ProjectView => ({
  ...r,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
});

/** Projects: list, create, read, rename, delete (spec platform.md §4.4). */
export function registerProjectRoutes(app: FastifyInstance, deps: RouteDeps): void {
  addRoute<unknown, Static<typeof OrgParams>, Static<typeof PageQuery>>(app, deps, {
    method: "GET",
    url: "/v1/orgs/:org/projects",
    operationId: "projects.list",
    summary: "The organisation's projects",
    tags: ["projects"],
    scope: "orgs:read",
    params: OrgParams,
    querystring: PageQuery,
    response: { 200: PageOf(Project) },
    handler: async (ctx) => {
      const limit = ctx.query.limit ?? 50;
      const { rows } = await deps.pool.query<ProjectRow>(
        `SELECT ${COLUMNS} FROM projects
          WHERE org_id = $1 AND NOT is_deleted AND project_id > $2 ORDER BY project_id LIMIT $3`,
        [ctx.params.org, pageAfter(ctx.query.cursor), limit + 1],
      );
      return { status: 200, body: toPage(rows.map(toView), limit, (p) => p.project_id) };
    },
  });

  addRoute<Static<typeof CreateProjectBody>, Static<typeof OrgParams>>(app, deps, {
    method: "POST",
    url: "/v1/orgs/:org/projects",
    operationId: "projects.create",
    summary: "Create a project (a grouping of apps; names unique per org)",
    tags: ["projects"],
    scope: "orgs:admin",
    params: OrgParams,
    body: CreateProjectBody,
    response: { 201: Project },
    handler: async (ctx) => {
      const r = await createProject(commandEnv(ctx, app.log), ctx.params.org, ctx.body);
      return {
        status: 201,
        body: r.response,
        replayed: r.replayed,
        wait: { position: r.position, projections: PROJECT_PROJECTIONS },
      };
    },
  });

  addRoute<unknown, Static<typeof ProjectParams>>(app, deps, {
    method: "GET",
    url: "/v1/orgs/:org/projects/:project",
    operationId: "projects.get",
    summary: "Read a project",
    tags: ["projects"],
    scope: "orgs:read",
    params: ProjectParams,
    response: { 200: Project },
    handler: async (ctx) => {
      const { rows } = await deps.pool.query<ProjectRow>(
        `SELECT ${COLUMNS} FROM projects WHERE project_id = $1 AND org_id = $2 AND NOT is_deleted`,
        [ctx.params.project, ctx.params.org],
      );
      const row = rows[0];
      if (!row) throw new KernelError("not_found", "No such project.");
      return { status: 200, body: toView(row) };
    },
  });

  addRoute<Static<typeof PatchProjectBody>, Static<typeof ProjectParams>>(app, deps, {
    method: "PATCH",
    url: "/v1/orgs/:org/projects/:project",
    operationId: "projects.update",
    summary: "Rename a project",
    tags: ["projects"],
    scope: "orgs:admin",
    params: ProjectParams,
    body: PatchProjectBody,
    response: { 200: Project },
    handler: async (ctx) => {
      const r = await updateProject(commandEnv(ctx, app.log), ctx.params.org, ctx.params.project, ctx.body);
      return {
        status: 200,
        body: r.response,
        replayed: r.replayed,
        wait: { position: r.position, projections: PROJECT_PROJECTIONS },
      };
    },
  });

  addRoute<unknown, Static<typeof ProjectParams>>(app, deps, {
    method: "DELETE",
    url: "/v1/orgs/:org/projects/:project",
    operationId: "projects.delete",
    summary: "Delete a project (refused while apps reference it)",
    tags: ["projects"],
    scope: "orgs:admin",
    params: ProjectParams,
    handler: async (ctx) => {
      const r = await deleteProject(commandEnv(ctx, app.log), ctx.params.org, ctx.params.project);
      return {
        status: 204,
        replayed: r.replayed,
        wait: { position: r.position, projections: PROJECT_PROJECTIONS },
      };
    },
  });
}
