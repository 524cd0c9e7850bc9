// The org_member aggregate: its state, a pure evolve, and pure decisions.
// Who may touch the owner role, and the last-owner rule, are decided here from
// facts the command loads (the caller's role, the org's owner count).
import { KernelError, type NewEvent, type StoredEvent } from "@plfm/kernel";
import type { Role } from "../auth/scopes.ts";
import { ORG_MEMBER } from "./org.ts";

export interface MemberState {
  exists: boolean;
  removed: boolean;
  orgId: string;
  userId: string;
  email: string;
  role: Role;
  createdAt: Date | null;
  updatedAt: Date | null;
  version: number;
}

export const initialMember = (): MemberState => ({
  exists: false,
  removed: false,
  orgId: "",
  userId: "",
  email: "",
  role: "readonly",
  createdAt: null,
  updatedAt: null,
  version: 0,
});

export function evolveMember(state: MemberState, e: StoredEvent): MemberState {
  const p = e.payload as Record<string, unknown>;
  const at = { updatedAt: e.occurredAt, version: e.aggregateSeq };
  switch (e.eventType) {
    case "org_member.added":
      return {
        exists: true,
        removed: false,
        orgId: String(p.org_id),
        userId: String(p.user_id),
        email: String(p.email),
        role: p.role as Role,
        createdAt: e.occurredAt,
        ...at,
      };
    case "org_member.role_updated":
      return { ...state, role: p.new_role as Role, ...at };
    case "org_member.removed":
      return { ...state, removed: true, ...at };
    default:
      return { ...state, version: e.aggregateSeq };
  }
}

export const memberAggregate = { aggregateType: ORG_MEMBER, initial: initialMember, evolve: evolveMember };

/** The API representation of a member (also the projection's row). */
export interface MemberView {
  member_id: string;
  org_id: string;
  user_id: string;
  email: string;
  role: Role;
  resource_version: number;
  created_at: string;
  updated_at: string;
}

export function memberView(memberId: string, s: MemberState): MemberView {
  return {
    member_id: memberId,
    org_id: s.orgId,
    user_id: s.userId,
    email: s.email,
    role: s.role,
    resource_version: s.version,
    created_at: (s.createdAt as Date).toISOString(),
    updated_at: (s.updatedAt as Date).toISOString(),
  };
}

/** Facts a membership decision needs besides the member itself. */
export interface MembershipFacts {
  /** The caller's role in the org (null for service principals). */
  actorRole: Role | null;
  /** Current owners of the org, read under the org's membership lock. */
  ownerCount: number;
}

// Admins hold orgs:admin but not billing:write; letting them grant or take the
// owner role would let an admin make themselves owner. Only owners touch it.
function requireOwnerForOwnerRole(facts: MembershipFacts, touchesOwner: boolean): void {
  if (touchesOwner && facts.actorRole !== "owner") {
    throw new KernelError("forbidden", "Only an owner may grant or revoke the owner role.");
  }
}

function lastOwner(): KernelError {
  return new KernelError(
    "last_owner_required",
    "An organisation needs at least one owner; make another member owner first.",
  );
}

export function decideAddMember(
  input: { orgId: string; memberId: string; userId: string; email: string; role: Role },
  facts: MembershipFacts,
): NewEvent[] {
  requireOwnerForOwnerRole(facts, input.role === "owner");
  const { orgId, memberId } = input;
  return [
    {
      aggregateType: ORG_MEMBER,
      aggregateId: memberId,
      eventType: "org_member.added",
      orgId,
      payload: {
        org_id: orgId,
        member_id: memberId,
        user_id: input.userId,
        email: input.email,
        role: input.role,
      },
    },
  ];
}

/** A member of another org, or one removed, is not found. */
function requireMember(state: MemberState, orgId: string): void {
  if (!state.exists || state.removed || state.orgId !== orgId) {
    throw new KernelError("not_found", "No such member.");
  }
}

/** PATCH: `expected_version` must match; the same role changes nothing. */
export function decideChangeRole(
  state: MemberState,
  input: { orgId: string; memberId: string; role: Role; expected_version: number },
  facts: MembershipFacts,
): NewEvent[] {
  requireMember(state, input.orgId);
  if (input.expected_version !== state.version) {
    throw new KernelError(
      "version_conflict",
      `The member is at version ${state.version}, not ${input.expected_version}; reload and retry.`,
    );
  }
  if (input.role === state.role) return [];
  requireOwnerForOwnerRole(facts, state.role === "owner" || input.role === "owner");
  if (state.role === "owner" && facts.ownerCount <= 1) throw lastOwner();
  return [
    {
      aggregateType: ORG_MEMBER,
      aggregateId: input.memberId,
      eventType: "org_member.role_updated",
      orgId: input.orgId,
      payload: { org_id: input.orgId, member_id: input.memberId, old_role: state.role, new_role: input.role },
    },
  ];
}

/** DELETE: the last owner cannot go. */
export function decideRemoveMember(
  state: MemberState,
  input: { orgId: string; memberId: string },
  facts: MembershipFacts,
): NewEvent[] {
  requireMember(state, input.orgId);
  requireOwnerForOwnerRole(facts, state.role === "owner");
  if (state.role === "owner" && facts.ownerCount <= 1) throw lastOwner();
  return [
    {
      aggregateType: ORG_MEMBER,
      aggregateId: input.memberId,
      eventType: "org_member.removed",
      orgId: input.orgId,
      payload: { org_id: input.orgId, member_id: input.memberId, email: state.email },
    },
  ];
}
