// Shared by the conformance tests: the OpenAPI document as a list of
// operations, and an org A with real resources whose ids fill path params.
// Not used in production.
import { newId } from "@plfm/kernel";
import { hashToken, newToken, userIdFor } from "../auth/tokens.ts";
import { dev, GiB, type Harness, makeOrg, type Reply } from "../storage/test-kit.ts";

export type Schema = Record<string, unknown>;

export interface Operation {
  method: string;
  /** OpenAPI path template, e.g. `/v1/orgs/{org}/apps/{app}`. */
  path: string;
  operationId: string;
  /** Scopes from `security: [{ bearer: [...] }]`; null when the operation is public. */
  scopes: string[] | null;
  /** The JSON request body schema, if any. */
  body: Schema | null;
  /** Served as Server-Sent Events. */
  stream: boolean;
}

export const MUTATIONS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Every operation of the served document, in document order. */
export async function loadOperations(h: Harness): Promise<Operation[]> {
  const doc = (await (await fetch(`${h.server.url}/v1/openapi.json`)).json()) as {
    paths: Record<string, Record<string, Schema>>;
    components?: { schemas?: Record<string, Schema> };
  };
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const security = op.security as Record<string, string[]>[] | undefined;
      const content = (op.requestBody as { content?: Record<string, { schema?: Schema }> } | undefined)
        ?.content;
      const body = content?.["application/json"]?.schema ?? null;
      const responses = JSON.stringify(op.responses ?? {});
      ops.push({
        method: method.toUpperCase(),
        path,
        operationId: String(op.operationId ?? `${method} ${path}`),
        scopes: security && security.length > 0 ? (security[0]?.bearer ?? []) : null,
        body: body ? resolveRefs(body, doc.components?.schemas ?? {}) : null,
        stream: path.endsWith("/stream") || responses.includes("text/event-stream"),
      });
    }
  }
  return ops;
}

function resolveRefs(schema: unknown, components: Record<string, Schema>, depth = 0): Schema {
  if (depth > 20 || schema === null || typeof schema !== "object") return schema as Schema;
  if (Array.isArray(schema))
    return schema.map((s) => resolveRefs(s, components, depth + 1)) as unknown as Schema;
  const ref = (schema as Schema).$ref;
  if (typeof ref === "string" && ref.startsWith("#/components/schemas/")) {
    return resolveRefs(components[ref.slice("#/components/schemas/".length)] ?? {}, components, depth + 1);
  }
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [k, resolveRefs(v, components, depth + 1)]),
  ) as Schema;
}

/** §2.1 id prefixes of the path params we cannot create through the API. */
const PREFIX: Record<string, string> = {
  org: "org",
  org_id: "org",
  project: "prj",
  member: "mem",
  sp: "sp",
  app: "app",
  env: "env",
  release: "rel",
  deploy: "dep",
  instance: "inst",
  node: "node",
  route: "rt",
  volume: "vol",
  attachment: "vat",
  snapshot: "snap",
  restore: "rjob",
  bundle: "sb",
  token: "etok",
};

/** Org A: its owner, a readonly-scoped token of that owner, and the real ids of what could be created. */
export interface Fixture {
  org: string;
  ids: Record<string, string>;
  /** Params filled with a well-formed random id because no real one could be made. */
  random: Set<string>;
  /** Why a resource could not be created (for the test output). */
  notes: string[];
  /** A stored access token of A's owner carrying only `orgs:read`. */
  readOnlyToken: string;
}

/** Creates org A with an app, env, project, route, volume and service principal, best effort each. */
export async function makeFixture(h: Harness, ownerEmail: string, name: string): Promise<Fixture> {
  const owner = dev(ownerEmail);
  const org = await makeOrg(h, ownerEmail, name);
  const ids: Record<string, string> = { org, org_id: org, dimension: "max_apps", name: "orgs" };
  const notes: string[] = [];
  const make = async (what: string, path: string, body: unknown, idField: string) => {
    const r: Reply = await h.call("POST", path, { auth: owner, body });
    if (r.status >= 200 && r.status < 300 && typeof r.body[idField] === "string")
      return String(r.body[idField]);
    notes.push(`${what}: POST ${path} answered ${r.status} ${String(r.body.code ?? "")}`);
    return null;
  };
  const set = (param: string, id: string | null) => {
    if (id !== null) ids[param] = id;
  };
  set("project", await make("project", `/v1/orgs/${org}/projects`, { name: "conf" }, "project_id"));
  set("app", await make("app", `/v1/orgs/${org}/apps`, { name: "conf" }, "app_id"));
  if (ids.app)
    set("env", await make("env", `/v1/orgs/${org}/apps/${ids.app}/envs`, { name: "prod" }, "env_id"));
  const E = `/v1/orgs/${org}/apps/${ids.app}/envs/${ids.env}`;
  if (ids.env) {
    const route = {
      hostname: "conf.example.com",
      listen_port: 443,
      protocol_hint: "tls_passthrough",
      backend_process_type: "web",
      backend_port: 8080,
    };
    set("route", await make("route", `${E}/routes`, route, "route_id"));
  }
  set("volume", await make("volume", `/v1/orgs/${org}/volumes`, { size_bytes: GiB }, "volume_id"));
  set(
    "sp",
    await make(
      "service principal",
      `/v1/orgs/${org}/service-principals`,
      { name: "ci", scopes: ["apps:read"] },
      "client_id",
    ),
  );
  const members = await h.call("GET", `/v1/orgs/${org}/members`, { auth: owner });
  const member = (members.body.items as { member_id: string }[] | undefined)?.[0]?.member_id;
  if (member) ids.member = member;
  else notes.push(`member: GET members answered ${members.status}`);

  const readOnlyToken = newToken("access");
  await h.db.pool.query(
    `INSERT INTO access_tokens (token_hash, subject_type, subject_id, email, scopes, expires_at)
     VALUES ($1, 'user', $2, $3, $4, now() + interval '15 minutes')`,
    [hashToken(readOnlyToken), userIdFor(ownerEmail), ownerEmail, ["orgs:read"]],
  );
  return { org, ids, random: new Set(), notes, readOnlyToken: `Bearer ${readOnlyToken}` };
}

/** The operation's path with every param filled: a real id of org A, else a well-formed random one. */
export function fillPath(op: Operation, f: Fixture): string {
  return op.path.replace(/\{([^}]+)\}/g, (_m, param: string) => {
    const real = f.ids[param];
    if (real !== undefined) return encodeURIComponent(real);
    f.random.add(`${op.operationId}:${param}`);
    const prefix = PREFIX[param] ?? (param.replace(/_id$/, "").replace(/[^a-z]/g, "") || "x");
    return newId(prefix);
  });
}

/** Calls with a raw fetch; SSE answers are read for their status and headers only, then dropped. */
export async function rawCall(
  h: Harness,
  method: string,
  path: string,
  options: { auth?: string | undefined; body?: string | undefined } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (options.auth) headers.authorization = options.auth;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const abort = new AbortController();
  const res = await fetch(`${h.server.url}${path}`, {
    method,
    headers,
    signal: abort.signal,
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
  if ((res.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    abort.abort();
    return { status: res.status, body: {}, headers: res.headers };
  }
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { unparsed: text };
  }
  return { status: res.status, body, headers: res.headers };
}
