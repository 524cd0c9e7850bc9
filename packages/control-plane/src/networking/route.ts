// The route aggregate (spec platform.md §8.4): its events, a pure evolve, and
// pure decisions. Checks that need other rows (hostname claims, ports, the
// env's IPv4) are made by the command side and handed in as facts.
import { KernelError, type NewEvent, type StoredEvent } from "@plfm/kernel";
import type { ProtocolHint } from "./ports.ts";

export const ROUTE = "route";

export type ProxyProtocol = "off" | "v2";

/** Where a route belongs: every route event carries these. */
export interface RouteOwner {
  orgId: string;
  appId: string;
  envId: string;
}

/** The fields PATCH may change (spec §8.4: "the last five fields"). */
export interface RouteBackend {
  backend_process_type: string;
  backend_port: number;
  proxy_protocol: ProxyProtocol;
  backend_expects_proxy_protocol: boolean;
  ipv4_required: boolean;
}

export interface RouteFields extends RouteBackend {
  hostname: string;
  listen_port: number;
  protocol_hint: ProtocolHint;
}

export const MUTABLE_FIELDS = [
  "backend_process_type",
  "backend_port",
  "proxy_protocol",
  "backend_expects_proxy_protocol",
  "ipv4_required",
] as const;
/** Fixed at creation: a change is a new route (PATCH → 400 `invalid_update`). */
export const IMMUTABLE_FIELDS = ["hostname", "listen_port", "protocol_hint"] as const;

export interface RouteState {
  exists: boolean;
  deleted: boolean;
  owner: RouteOwner;
  fields: RouteFields;
  createdAt: Date | null;
  updatedAt: Date | null;
  version: number;
}

export const initialRoute = (): RouteState => ({
  exists: false,
  deleted: false,
  owner: { orgId: "", appId: "", envId: "" },
  fields: {
    hostname: "",
    listen_port: 0,
    protocol_hint: "tls_passthrough",
    backend_process_type: "",
    backend_port: 0,
    proxy_protocol: "off",
    backend_expects_proxy_protocol: false,
    ipv4_required: false,
  },
  createdAt: null,
  updatedAt: null,
  version: 0,
});

function pickFields<K extends string>(
  p: Record<string, unknown>,
  keys: readonly K[],
): Partial<Record<K, unknown>> {
  const out: Partial<Record<K, unknown>> = {};
  for (const k of keys) if (k in p) out[k] = p[k];
  return out;
}

export function evolveRoute(state: RouteState, e: StoredEvent): RouteState {
  const p = e.payload as Record<string, unknown>;
  switch (e.eventType) {
    case "route.created":
      return {
        exists: true,
        deleted: false,
        owner: { orgId: String(p.org_id), appId: String(p.app_id), envId: String(p.env_id) },
        fields: {
          ...initialRoute().fields,
          ...(pickFields(p, [...IMMUTABLE_FIELDS, ...MUTABLE_FIELDS]) as Partial<RouteFields>),
        },
        createdAt: e.occurredAt,
        updatedAt: e.occurredAt,
        version: e.aggregateSeq,
      };
    case "route.updated":
      return {
        ...state,
        fields: { ...state.fields, ...(pickFields(p, MUTABLE_FIELDS) as Partial<RouteFields>) },
        updatedAt: e.occurredAt,
        version: e.aggregateSeq,
      };
    case "route.deleted":
      return { ...state, deleted: true, updatedAt: e.occurredAt, version: e.aggregateSeq };
    default:
      return { ...state, version: e.aggregateSeq };
  }
}

/** The API representation of a route (also the `routes` view's row). */
export interface RouteView extends RouteFields {
  route_id: string;
  org_id: string;
  app_id: string;
  env_id: string;
  resource_version: number;
  created_at: string;
  updated_at: string;
}

export function routeView(routeId: string, s: RouteState): RouteView {
  return {
    route_id: routeId,
    org_id: s.owner.orgId,
    app_id: s.owner.appId,
    env_id: s.owner.envId,
    ...s.fields,
    resource_version: s.version,
    created_at: (s.createdAt as Date).toISOString(),
    updated_at: (s.updatedAt as Date).toISOString(),
  };
}

/** PROXY v2 is written only to backends that expect it (spec §8.5; compliance 54). */
export function checkProxyProtocol(
  b: Pick<RouteBackend, "proxy_protocol" | "backend_expects_proxy_protocol">,
) {
  if (b.proxy_protocol === "v2" && !b.backend_expects_proxy_protocol) {
    throw new KernelError(
      "invalid_proxy_protocol",
      'proxy_protocol "v2" needs backend_expects_proxy_protocol: true; a backend that does not expect the header would read it as client bytes.',
      {
        details: [
          {
            field: "backend_expects_proxy_protocol",
            code: "invalid_proxy_protocol",
            message: 'must be true when proxy_protocol is "v2"',
          },
        ],
      },
    );
  }
}

export function ipv4NotEnabled(): KernelError {
  return new KernelError(
    "ipv4_not_enabled",
    "ipv4_required needs the env's IPv4 add-on; enable it with POST …/networking/ipv4 first.",
    {
      details: [{ field: "ipv4_required", code: "ipv4_not_enabled", message: "the env has no IPv4 address" }],
    },
  );
}

const envFields = (routeId: string, o: RouteOwner) => ({
  route_id: routeId,
  org_id: o.orgId,
  env_id: o.envId,
});
const envelope = (routeId: string, o: RouteOwner) => ({
  aggregateType: ROUTE,
  aggregateId: routeId,
  orgId: o.orgId,
  appId: o.appId,
  envId: o.envId,
});

/** Create: `fields.hostname` is already canonical; `envHasIpv4` from the allocation table. */
export function decideCreateRoute(
  state: RouteState,
  routeId: string,
  owner: RouteOwner,
  fields: RouteFields,
  envHasIpv4: boolean,
): NewEvent[] {
  if (state.exists) throw new KernelError("conflict", "This route already exists.");
  checkProxyProtocol(fields);
  if (fields.ipv4_required && !envHasIpv4) throw ipv4NotEnabled();
  return [
    {
      ...envelope(routeId, owner),
      eventType: "route.created",
      payload: { ...envFields(routeId, owner), app_id: owner.appId, ...fields },
    },
  ];
}

function requireLive(state: RouteState, owner: RouteOwner): void {
  const o = state.owner;
  if (
    !state.exists ||
    state.deleted ||
    o.orgId !== owner.orgId ||
    o.appId !== owner.appId ||
    o.envId !== owner.envId
  ) {
    throw new KernelError("not_found", "No such route in this env.");
  }
}

/** PATCH: the current `expected_version`; only the mutable fields; nothing changed → no event. */
export function decideUpdateRoute(
  state: RouteState,
  routeId: string,
  owner: RouteOwner,
  change: Partial<RouteBackend> & { expected_version: number },
  envHasIpv4: boolean,
): NewEvent[] {
  requireLive(state, owner);
  if (change.expected_version !== state.version) {
    throw new KernelError(
      "version_conflict",
      `The route is at version ${state.version}, not ${change.expected_version}; reload and retry.`,
      { retryable: false },
    );
  }
  const next: RouteBackend = { ...state.fields };
  const payload: Record<string, unknown> = {};
  for (const k of MUTABLE_FIELDS) {
    const v = change[k];
    if (v !== undefined && v !== state.fields[k]) {
      (next as unknown as Record<string, unknown>)[k] = v;
      payload[k] = v;
    }
  }
  if (Object.keys(payload).length === 0) return [];
  checkProxyProtocol(next);
  if (payload.ipv4_required === true && !envHasIpv4) throw ipv4NotEnabled();
  return [
    {
      ...envelope(routeId, owner),
      eventType: "route.updated",
      payload: { ...envFields(routeId, owner), ...payload },
    },
  ];
}

export function decideDeleteRoute(state: RouteState, routeId: string, owner: RouteOwner): NewEvent[] {
  requireLive(state, owner);
  return [
    {
      ...envelope(routeId, owner),
      eventType: "route.deleted",
      payload: { ...envFields(routeId, owner), hostname: state.fields.hostname },
    },
  ];
}

/** 400 `invalid_update` for a PATCH naming a field fixed at creation (compliance 55). */
export function rejectImmutable(body: Record<string, unknown>): void {
  const named = IMMUTABLE_FIELDS.filter((k) => k in body);
  if (named.length === 0) return;
  throw new KernelError(
    "invalid_update",
    `${named.join(" and ")} cannot change; create a new route and delete this one.`,
    { details: named.map((field) => ({ field, code: "invalid_update", message: "fixed at creation" })) },
  );
}
