// The service_principal aggregate: its events, a pure evolve, and pure decisions.
import { KernelError, type NewEvent, type StoredEvent } from "@plfm/kernel";

export const SERVICE_PRINCIPAL = "service_principal";

export interface ServicePrincipalState {
  exists: boolean;
  deleted: boolean;
  orgId: string;
  name: string;
  scopes: string[];
  /** How many times the secret was rotated; the current secret's `rotation_id`. */
  rotations: number;
  secretRotatedAt: Date | null;
  createdAt: Date | null;
  updatedAt: Date | null;
  version: number;
}

export const initialServicePrincipal = (): ServicePrincipalState => ({
  exists: false,
  deleted: false,
  orgId: "",
  name: "",
  scopes: [],
  rotations: 0,
  secretRotatedAt: null,
  createdAt: null,
  updatedAt: null,
  version: 0,
});

export function evolveServicePrincipal(s: ServicePrincipalState, e: StoredEvent): ServicePrincipalState {
  const p = e.payload as Record<string, unknown>;
  const touched = { updatedAt: e.occurredAt, version: e.aggregateSeq };
  switch (e.eventType) {
    case "service_principal.created":
      return {
        ...initialServicePrincipal(),
        exists: true,
        orgId: String(p.org_id),
        name: String(p.name),
        scopes: (p.scopes as string[]).slice(),
        createdAt: e.occurredAt,
        ...touched,
      };
    case "service_principal.scopes_updated":
      return { ...s, scopes: (p.scopes as string[]).slice(), ...touched };
    case "service_principal.secret_rotated":
      return {
        ...s,
        rotations: Number(p.rotation_id),
        secretRotatedAt: new Date(String(p.rotated_at)),
        ...touched,
      };
    case "service_principal.deleted":
      return { ...s, deleted: true, ...touched };
    default:
      return { ...s, version: e.aggregateSeq };
  }
}

export const servicePrincipalAggregate = {
  aggregateType: SERVICE_PRINCIPAL,
  initial: initialServicePrincipal,
  evolve: evolveServicePrincipal,
};

/** The API representation (also the projection's row). `client_id` is the id. */
export interface ServicePrincipalView {
  service_principal_id: string;
  org_id: string;
  name: string;
  scopes: string[];
  client_id: string;
  secret_rotated_at: string | null;
  resource_version: number;
  created_at: string;
  updated_at: string;
}

export function servicePrincipalView(id: string, s: ServicePrincipalState): ServicePrincipalView {
  return {
    service_principal_id: id,
    org_id: s.orgId,
    name: s.name,
    scopes: s.scopes,
    client_id: id,
    secret_rotated_at: s.secretRotatedAt?.toISOString() ?? null,
    resource_version: s.version,
    created_at: (s.createdAt as Date).toISOString(),
    updated_at: (s.updatedAt as Date).toISOString(),
  };
}

/** Scopes in a stable order, so equal sets compare and store equally. */
export const sortScopes = (scopes: readonly string[]): string[] => [...new Set(scopes)].sort();

const event = (id: string, orgId: string, eventType: string, payload: Record<string, unknown>): NewEvent => ({
  aggregateType: SERVICE_PRINCIPAL,
  aggregateId: id,
  eventType,
  orgId,
  payload: { service_principal_id: id, org_id: orgId, ...payload },
});

export function decideCreateServicePrincipal(input: {
  id: string;
  orgId: string;
  name: string;
  scopes: readonly string[];
}): NewEvent[] {
  return [
    event(input.id, input.orgId, "service_principal.created", {
      name: input.name,
      scopes: sortScopes(input.scopes),
    }),
  ];
}

/** A principal of another org is as absent as a deleted one (no probing across orgs). */
function requireLive(s: ServicePrincipalState, orgId: string): void {
  if (!s.exists || s.deleted || s.orgId !== orgId) {
    throw new KernelError("not_found", "No such service principal.");
  }
}

export function decideUpdateScopes(
  s: ServicePrincipalState,
  id: string,
  orgId: string,
  change: { scopes: readonly string[]; expected_version: number },
): NewEvent[] {
  requireLive(s, orgId);
  if (change.expected_version !== s.version) {
    throw new KernelError(
      "version_conflict",
      `The service principal is at version ${s.version}, not ${change.expected_version}; reload and retry.`,
    );
  }
  const scopes = sortScopes(change.scopes);
  if (scopes.join(" ") === sortScopes(s.scopes).join(" ")) return [];
  return [event(id, orgId, "service_principal.scopes_updated", { scopes })];
}

export function decideRotateSecret(
  s: ServicePrincipalState,
  id: string,
  orgId: string,
  at: Date,
): NewEvent[] {
  requireLive(s, orgId);
  return [
    event(id, orgId, "service_principal.secret_rotated", {
      rotation_id: s.rotations + 1,
      rotated_at: at.toISOString(),
    }),
  ];
}

export function decideDeleteServicePrincipal(
  s: ServicePrincipalState,
  id: string,
  orgId: string,
): NewEvent[] {
  requireLive(s, orgId);
  return [event(id, orgId, "service_principal.deleted", {})];
}
