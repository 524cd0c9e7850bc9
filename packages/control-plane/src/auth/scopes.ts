/**
 * Scopes and roles (spec platform.md §4.5). A role is a named set of scopes;
 * a request's effective scopes in an org are the token's scopes ∩ the
 * member's role scopes, plus `nodes:admin` for operators.
 */
const rw = (name: string) => [`${name}:read`, `${name}:write`];

export const ALL_SCOPES = [
  "orgs:read",
  "orgs:admin",
  ...rw("apps"),
  ...rw("envs"),
  ...rw("releases"),
  ...rw("routes"),
  ...rw("volumes"),
  "deploys:write",
  "rollbacks:write",
  "secrets:read-metadata",
  "secrets:write",
  "secrets:read-material",
  "logs:read",
  "exec:write",
  "billing:read",
  "billing:write",
  "nodes:admin",
] as const;

export type Scope = (typeof ALL_SCOPES)[number];

export const ROLES = ["owner", "admin", "developer", "readonly"] as const;
export type Role = (typeof ROLES)[number];

const OWNER: readonly Scope[] = [
  "orgs:read",
  "orgs:admin",
  ...(["apps", "envs", "releases", "routes", "volumes"].flatMap(rw) as Scope[]),
  "deploys:write",
  "rollbacks:write",
  "secrets:read-metadata",
  "secrets:write",
  "logs:read",
  "exec:write",
  "billing:read",
  "billing:write",
];
const without = (from: readonly Scope[], ...drop: Scope[]) => from.filter((s) => !drop.includes(s));
const ADMIN = without(OWNER, "billing:write");
const DEVELOPER = without(ADMIN, "orgs:admin", "billing:read");
const READONLY: readonly Scope[] = [
  "orgs:read",
  ...(["apps", "envs", "releases", "routes", "volumes"].map((r) => `${r}:read`) as Scope[]),
  "secrets:read-metadata",
  "logs:read",
];

export const ROLE_SCOPES: Readonly<Record<Role, ReadonlySet<Scope>>> = {
  owner: new Set(OWNER),
  admin: new Set(ADMIN),
  developer: new Set(DEVELOPER),
  readonly: new Set(READONLY),
};

export function isScope(s: string): s is Scope {
  return (ALL_SCOPES as readonly string[]).includes(s);
}

export function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}
