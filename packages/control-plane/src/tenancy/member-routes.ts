import type { FastifyInstance } from "fastify";
import { type Static, Type } from "typebox";
import { ROLES } from "../auth/scopes.ts";
import { PageQuery, pageAfter, toPage } from "../http/pagination.ts";
import { addRoute, type RouteDeps } from "../http/route.ts";
import type { MemberView } from "./member.ts";
import { addMember, changeMemberRole, removeMember } from "./member-commands.ts";
import {
  commandEnv,
  Email,
  ExpectedVersion,
  MemberId,
  OrgId,
  OrgParams,
  PageOf,
  Timestamp,
} from "./schemas.ts";

const Role = Type.Union(ROLES.map((r) => Type.Literal(r)));
const MemberParams = Type.Object({ org: OrgId, member: MemberId }, { additionalProperties: false });
const AddMemberBody = Type.Object({ email: Email, role: Role }, { additionalProperties: false });
const PatchMemberBody = Type.Object(
  { role: Role, expected_version: ExpectedVersion },
  { additionalProperties: false },
);
const Member = Type.Object({
  member_id: Type.String(),
  org_id: Type.String(),
  user_id: Type.String(),
  email: Type.String(),
  role: Type.String(),
  resource_version: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const MEMBER_PROJECTIONS = ["org_members"];

interface MemberRow extends Omit<MemberView, "created_at" | "updated_at"> {
  created_at: Date;
  updated_at: Date;
}
const toView = (r: MemberRow): MemberView => ({
  ...r,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
});

/** Members: list, add, change role, remove (spec platform.md §4.4). */
export function registerMemberRoutes(app: FastifyInstance, deps: RouteDeps): void {
  addRoute<unknown, Static<typeof OrgParams>, Static<typeof PageQuery>>(app, deps, {
    method: "GET",
    url: "/v1/orgs/:org/members",
    operationId: "members.list",
    summary: "The organisation's members",
    tags: ["members"],
    scope: "orgs:read",
    params: OrgParams,
    querystring: PageQuery,
    response: { 200: PageOf(Member) },
    handler: async (ctx) => {
      const limit = ctx.query.limit ?? 50;
      const { rows } = await deps.pool.query<MemberRow>(
        `SELECT member_id, org_id, user_id, email, role, resource_version, created_at, updated_at
           FROM org_members WHERE org_id = $1 AND NOT is_deleted AND member_id > $2
          ORDER BY member_id LIMIT $3`,
        [ctx.params.org, pageAfter(ctx.query.cursor), limit + 1],
      );
      return { status: 200, body: toPage(rows.map(toView), limit, (m) => m.member_id) };
    },
  });

  addRoute<Static<typeof AddMemberBody>, Static<typeof OrgParams>>(app, deps, {
    method: "POST",
    url: "/v1/orgs/:org/members",
    operationId: "members.create",
    summary: "Add a member by email with a role (only owners add owners)",
    tags: ["members"],
    scope: "orgs:admin",
    params: OrgParams,
    body: AddMemberBody,
    response: { 201: Member },
    handler: async (ctx) => {
      const r = await addMember(commandEnv(ctx, app.log), ctx.params.org, ctx.org?.role ?? null, ctx.body);
      return {
        status: 201,
        body: r.response,
        replayed: r.replayed,
        wait: { position: r.position, projections: MEMBER_PROJECTIONS },
      };
    },
  });

  addRoute<Static<typeof PatchMemberBody>, Static<typeof MemberParams>>(app, deps, {
    method: "PATCH",
    url: "/v1/orgs/:org/members/:member",
    operationId: "members.update",
    summary: "Change a member's role (only owners grant or revoke owner; the last owner stays)",
    tags: ["members"],
    scope: "orgs:admin",
    params: MemberParams,
    body: PatchMemberBody,
    response: { 200: Member },
    handler: async (ctx) => {
      const r = await changeMemberRole(
        commandEnv(ctx, app.log),
        ctx.params.org,
        ctx.params.member,
        ctx.org?.role ?? null,
        ctx.body,
      );
      return {
        status: 200,
        body: r.response,
        replayed: r.replayed,
        wait: { position: r.position, projections: MEMBER_PROJECTIONS },
      };
    },
  });

  addRoute<unknown, Static<typeof MemberParams>>(app, deps, {
    method: "DELETE",
    url: "/v1/orgs/:org/members/:member",
    operationId: "members.delete",
    summary: "Remove a member (the last owner cannot be removed)",
    tags: ["members"],
    scope: "orgs:admin",
    params: MemberParams,
    handler: async (ctx) => {
      const r = await removeMember(
        commandEnv(ctx, app.log),
        ctx.params.org,
        ctx.params.member,
        ctx.org?.role ?? null,
      );
      return {
        status: 204,
        replayed: r.replayed,
        wait: { position: r.position, projections: MEMBER_PROJECTIONS },
      };
    },
  });
}
