// The org aggregate: its events, a pure evolve, and pure decisions.
import { KernelError, type NewEvent, type StoredEvent } from "@plfm/kernel";

export const ORG = "org";
export const ORG_MEMBER = "org_member";

export type OrgEvent =
  | { type: "org.created"; payload: { org_id: string; name: string; billing_email?: string } }
  | { type: "org.updated"; payload: { org_id: string; name?: string; billing_email?: string } }
  | { type: "org.quota_set"; payload: { org_id: string; dimension: string; limit_value: number | null } };

/** A quota an operator set: its limit (null = unlimited) and how many times it was set. */
export interface QuotaSetting {
  limit: number | null;
  version: number;
}

export interface OrgState {
  exists: boolean;
  name: string;
  billingEmail: string | null;
  createdAt: Date | null;
  updatedAt: Date | null;
  version: number;
  /** By dimension; only quotas that were set (defaults live in quotas.ts). */
  quotas: Readonly<Record<string, QuotaSetting>>;
}

export const initialOrg = (): OrgState => ({
  exists: false,
  name: "",
  billingEmail: null,
  createdAt: null,
  updatedAt: null,
  version: 0,
  quotas: {},
});

export function evolveOrg(state: OrgState, e: StoredEvent): OrgState {
  const p = e.payload as Record<string, unknown>;
  switch (e.eventType) {
    case "org.created":
      return {
        exists: true,
        name: String(p.name),
        billingEmail: typeof p.billing_email === "string" ? p.billing_email : null,
        createdAt: e.occurredAt,
        updatedAt: e.occurredAt,
        version: e.aggregateSeq,
        quotas: {},
      };
    case "org.updated":
      return {
        ...state,
        ...(typeof p.name === "string" ? { name: p.name } : {}),
        ...(typeof p.billing_email === "string" ? { billingEmail: p.billing_email } : {}),
        updatedAt: e.occurredAt,
        version: e.aggregateSeq,
      };
    case "org.quota_set": {
      // A quota change is a change of the org: its resource_version moves too,
      // so the view's version always equals the aggregate's (PATCH checks it).
      const dimension = String(p.dimension);
      const limit = typeof p.limit_value === "number" ? p.limit_value : null;
      const version = (state.quotas[dimension]?.version ?? 0) + 1;
      return {
        ...state,
        quotas: { ...state.quotas, [dimension]: { limit, version } },
        updatedAt: e.occurredAt,
        version: e.aggregateSeq,
      };
    }
    default:
      return { ...state, version: e.aggregateSeq };
  }
}

/** The API representation of an org (also the projection's row). */
export interface OrgView {
  org_id: string;
  name: string;
  billing_email: string | null;
  resource_version: number;
  created_at: string;
  updated_at: string;
}

export function orgView(orgId: string, s: OrgState): OrgView {
  return {
    org_id: orgId,
    name: s.name,
    billing_email: s.billingEmail,
    resource_version: s.version,
    created_at: (s.createdAt as Date).toISOString(),
    updated_at: (s.updatedAt as Date).toISOString(),
  };
}

/** Creating an org makes its creator the owner: two aggregates, one command. */
export function decideCreateOrg(input: {
  orgId: string;
  memberId: string;
  name: string;
  billingEmail?: string | undefined;
  creator: { userId: string; email: string };
}): NewEvent[] {
  const { orgId, memberId, name, creator } = input;
  return [
    {
      aggregateType: ORG,
      aggregateId: orgId,
      eventType: "org.created",
      orgId,
      payload: { org_id: orgId, name, ...(input.billingEmail ? { billing_email: input.billingEmail } : {}) },
    },
    {
      aggregateType: ORG_MEMBER,
      aggregateId: memberId,
      eventType: "org_member.added",
      orgId,
      payload: {
        org_id: orgId,
        member_id: memberId,
        user_id: creator.userId,
        email: creator.email,
        role: "owner",
      },
    },
  ];
}

/** PATCH: `expected_version` must match; an empty change is refused. */
export function decideUpdateOrg(
  state: OrgState,
  orgId: string,
  change: { name?: string | undefined; billing_email?: string | undefined; expected_version: number },
): NewEvent[] {
  if (!state.exists) throw new KernelError("not_found", "No such organisation.");
  if (change.expected_version !== state.version) {
    throw new KernelError(
      "version_conflict",
      `The organisation is at version ${state.version}, not ${change.expected_version}; reload and retry.`,
    );
  }
  const payload: Record<string, unknown> = { org_id: orgId };
  if (change.name !== undefined && change.name !== state.name) payload.name = change.name;
  if (change.billing_email !== undefined && change.billing_email !== state.billingEmail) {
    payload.billing_email = change.billing_email;
  }
  if (Object.keys(payload).length === 1) return [];
  return [{ aggregateType: ORG, aggregateId: orgId, eventType: "org.updated", orgId, payload }];
}

/**
 * PUT quota: `expected_version`, when given, is the quota's own version (0 if
 * never set). Setting the current limit again appends nothing.
 */
export function decideSetQuota(
  state: OrgState,
  input: {
    orgId: string;
    dimension: string;
    limit_value: number | null;
    expected_version?: number | undefined;
  },
): NewEvent[] {
  if (!state.exists) throw new KernelError("not_found", "No such organisation.");
  const current = state.quotas[input.dimension];
  const version = current?.version ?? 0;
  if (input.expected_version !== undefined && input.expected_version !== version) {
    throw new KernelError(
      "version_conflict",
      `The quota is at version ${version}, not ${input.expected_version}; reload and retry.`,
    );
  }
  if (current !== undefined && current.limit === input.limit_value) return [];
  const { orgId, dimension } = input;
  return [
    {
      aggregateType: ORG,
      aggregateId: orgId,
      eventType: "org.quota_set",
      orgId,
      payload: { org_id: orgId, dimension, limit_value: input.limit_value },
    },
  ];
}
