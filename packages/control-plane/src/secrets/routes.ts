// GET, PUT, PATCH `E/secrets` (spec platform.md §4.4, §9). Responses carry
// metadata only (key names, data_hash, version ids); values go in, never out.
import {
  BASE64_PREFIX,
  type CanonicalSecrets,
  canonicaliseSecretsFile,
  canonicaliseValues,
  type SecretValueInput,
} from "@plfm/contracts";
import { KernelError } from "@plfm/kernel";
import type { FastifyInstance } from "fastify";
import { type Static, Type } from "typebox";
import { idSchema as id } from "../http/ids.ts";
import { addRoute, type RouteContext, type RouteDeps } from "../http/route.ts";
import { SECRETS_FORMAT } from "./bundle.ts";
import { type SecretsCommandEnv, type SecretsOutcome, writeSecrets } from "./commands.ts";
import { requireKeyring } from "./keyring-config.ts";
import { secretsProblem } from "./problems.ts";
import { type EnvRef, readSecretsView, requireEnv } from "./reads.ts";

const EnvParams = Type.Object(
  { org: id("org"), app: id("app"), env: id("env") },
  { additionalProperties: false },
);
type EnvPath = Static<typeof EnvParams>;

// Keys are checked by the secrets format (invalid_secrets_format naming the key), not here.
const Values = Type.Record(Type.String(), Type.String());
const ExpectedVersion = Type.Optional(Type.Integer({ minimum: 0 }));

const PutBody = Type.Object(
  {
    format: Type.Optional(Type.Literal(SECRETS_FORMAT)),
    data: Type.Optional(Type.String({ description: "The secrets file (platform_env_v1)" })),
    values: Type.Optional(Values),
    expected_version: ExpectedVersion,
  },
  { additionalProperties: false },
);
const PatchBody = Type.Object(
  {
    set: Type.Optional(Values),
    unset: Type.Optional(Type.Array(Type.String(), { maxItems: 1024 })),
    expected_version: ExpectedVersion,
  },
  { additionalProperties: false },
);
const Secrets = Type.Object({
  env_id: Type.String(),
  bundle_id: Type.String(),
  org_id: Type.String(),
  app_id: Type.String(),
  format: Type.String(),
  current_version_id: Type.String(),
  current_data_hash: Type.String(),
  keys: Type.Array(Type.String()),
  resource_version: Type.Integer(),
  created_at: Type.String({ format: "date-time" }),
  updated_at: Type.String({ format: "date-time" }),
});

const SECRETS_PROJECTIONS = ["secret_bundles"];
const SECRETS_URL = "/v1/orgs/:org/apps/:app/envs/:env/secrets";

const refOf = (p: EnvPath): EnvRef => ({ orgId: p.org, appId: p.app, envId: p.env });

/** Secrets metadata and writes of an env. */
export function registerSecretsRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const common = { url: SECRETS_URL, tags: ["secrets"], params: EnvParams, response: { 200: Secrets } };

  addRoute<unknown, EnvPath>(app, deps, {
    ...common,
    method: "GET",
    operationId: "secrets.get",
    summary: "The env's secrets metadata: key names and the current version, never values",
    scope: "secrets:read-metadata",
    handler: async (ctx) => {
      const ref = refOf(ctx.params);
      await requireEnv(deps.pool, ref);
      return { status: 200, body: await readSecretsView(deps.pool, ref) };
    },
  });

  addRoute<Static<typeof PutBody>, EnvPath>(app, deps, {
    ...common,
    method: "PUT",
    operationId: "secrets.put",
    summary: "Replace all of the env's secrets: a platform_env_v1 file (data) or key/values; a new version",
    scope: "secrets:write",
    body: PutBody,
    handler: async (ctx) => {
      const env = commandEnv(ctx, app);
      const { data, values } = ctx.body;
      if ((data === undefined) === (values === undefined)) {
        throw new KernelError("invalid_argument", "Send the file as `data` or key/values as `values`.", {
          details: [{ field: "data", code: "one_of", message: "exactly one of data and values" }],
        });
      }
      const raw: Buffer[] = [];
      let secrets: CanonicalSecrets;
      try {
        secrets = canonicalise(() =>
          data !== undefined
            ? canonicaliseSecretsFile(data)
            : canonicaliseValues(jsonValues(values ?? {}, raw)),
        );
      } finally {
        for (const b of raw) b.fill(0);
      }
      const outcome = await writeSecrets(
        env,
        refOf(ctx.params),
        { kind: "put", secrets },
        ctx.body.expected_version,
      );
      return answer(outcome);
    },
  });

  addRoute<Static<typeof PatchBody>, EnvPath>(app, deps, {
    ...common,
    method: "PATCH",
    operationId: "secrets.patch",
    summary: "Set or unset some of the env's secrets, merged into the current version; a new version",
    scope: "secrets:write",
    body: PatchBody,
    handler: async (ctx) => {
      const env = commandEnv(ctx, app);
      const raw: Buffer[] = [];
      const changes: Record<string, SecretValueInput | null> = jsonValues(ctx.body.set ?? {}, raw);
      for (const key of ctx.body.unset ?? []) {
        if (Object.hasOwn(changes, key) && changes[key] !== null) {
          throw new KernelError("invalid_argument", "A key is both set and unset.", {
            details: [{ field: `unset.${key}`, code: "conflict", message: "key is also in set" }],
          });
        }
        changes[key] = null;
      }
      try {
        const outcome = await writeSecrets(
          env,
          refOf(ctx.params),
          { kind: "patch", changes },
          ctx.body.expected_version,
        );
        return answer(outcome);
      } finally {
        for (const b of raw) b.fill(0);
      }
    },
  });
}

const LINE_BREAK_OR_NUL = /[\r\n\0]/;
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * JSON `{values}` / `set` strings read as the file's values are (a `base64:`
 * prefix is decoded, anything else is plain text), with one extension JSON
 * allows: a string with CR, LF or NUL, which no file value can be, is taken as
 * its UTF-8 bytes (compliance 51: a value with a newline canonicalises to
 * `base64:`). Nothing is ambiguous: such a string is an error in file syntax.
 * Buffers made here are pushed to `made`, for the caller to zero.
 */
function jsonValues(
  values: Readonly<Record<string, string>>,
  made: Buffer[],
): Record<string, SecretValueInput> {
  const out: Record<string, SecretValueInput> = {};
  for (const [key, value] of Object.entries(values)) {
    const raw =
      !value.startsWith(BASE64_PREFIX) && LINE_BREAK_OR_NUL.test(value) && !LONE_SURROGATE.test(value);
    if (raw) {
      const bytes = Buffer.from(value, "utf8");
      made.push(bytes);
      out[key] = bytes;
    } else {
      out[key] = value;
    }
  }
  return out;
}

function commandEnv(ctx: RouteContext<unknown, unknown, unknown>, app: FastifyInstance): SecretsCommandEnv {
  return {
    pool: ctx.deps.pool,
    // First: without a master key no write can be sealed, whatever the body says.
    keyring: requireKeyring(ctx.deps.keyring),
    principal: ctx.principal,
    idempotency: ctx.idempotency,
    requestId: ctx.requestId,
    now: ctx.deps.now(),
    log: app.log,
  };
}

function canonicalise(fn: () => CanonicalSecrets): CanonicalSecrets {
  try {
    return fn();
  } catch (err) {
    throw secretsProblem(err);
  }
}

const answer = (r: SecretsOutcome) => ({
  status: 200,
  body: r.response,
  replayed: r.replayed,
  wait: { position: r.position, projections: SECRETS_PROJECTIONS },
});
