// Service-principal commands' I/O: decide (pure, service-principal.ts), append,
// and keep the secret, token, name-claim and audit tables in the append's
// transaction.
import {
  append,
  evolvePending,
  findReplay,
  handleCommand,
  type IdempotencyRequest,
  isKernelError,
  type NewEvent,
  newId,
  type Pool,
  type PoolClient,
  type Position,
  wakeReaders,
  withTransaction,
} from "@plfm/kernel";
import { type AuditLogger, recordAudit } from "../tenancy/audit.ts";
import { claimName, releaseNames } from "../tenancy/claims.ts";
import { hashClientSecret, newClientSecret } from "./client-secret.ts";
import type { Principal } from "./principal.ts";
import {
  decideCreateServicePrincipal,
  decideDeleteServicePrincipal,
  decideRotateSecret,
  decideUpdateScopes,
  SERVICE_PRINCIPAL,
  type ServicePrincipalState,
  type ServicePrincipalView,
  servicePrincipalAggregate,
  servicePrincipalView,
  sortScopes,
} from "./service-principal.ts";
import { revokePrincipalTokens } from "./token-store.ts";

/** What every service-principal command needs besides its own input. */
export interface SpCommandEnv {
  pool: Pool;
  principal: Principal;
  orgId: string;
  idempotency: IdempotencyRequest | null;
  /** The HTTP request id: the command's events and audit row carry it. */
  requestId: string;
  now: Date;
  log: AuditLogger;
}

export interface Outcome<R> {
  response: R;
  position: Position | null;
  replayed: boolean;
}

/**
 * What create and rotate answer. The stored idempotency response leaves the
 * secret out (only its hash may be kept), so a replay answers without
 * `client_secret`: rotate again if the first answer was lost.
 */
export interface WithSecret {
  service_principal: ServicePrincipalView;
  client_id: string;
  client_secret?: string;
}

const nameScope = (orgId: string) => `service_principal:${orgId}`;
const metaOf = (env: SpCommandEnv) => ({
  actorType: env.principal.type,
  actorId: env.principal.id,
  requestId: env.requestId,
});
const clockOf = (env: SpCommandEnv) => ({ now: () => env.now });

/** Audited (spec §4.5): names, ids and scopes only, never the secret. */
function audit(client: PoolClient, env: SpCommandEnv, id: string, action: string, details: object) {
  return recordAudit(
    client,
    {
      org_id: env.orgId,
      actor_type: env.principal.type,
      actor_id: env.principal.id,
      action,
      target_type: SERVICE_PRINCIPAL,
      target_id: id,
      request_id: env.requestId,
      details: { ...details },
    },
    env.log,
  );
}

export async function createServicePrincipal(
  env: SpCommandEnv,
  body: { name: string; scopes: readonly string[] },
): Promise<Outcome<WithSecret>> {
  const { pool, orgId, idempotency, now } = env;
  if (idempotency) {
    const replay = await findReplay(pool, idempotency);
    if (replay) return { response: replay.response as WithSecret, position: replay.position, replayed: true };
  }
  const id = newId("sp");
  const secret = newClientSecret();
  const secretHash = await hashClientSecret(secret); // slow: outside the transaction
  const scopes = sortScopes(body.scopes);
  const events = decideCreateServicePrincipal({ id, orgId, name: body.name, scopes });
  const view: ServicePrincipalView = {
    service_principal_id: id,
    org_id: orgId,
    name: body.name,
    scopes,
    client_id: id,
    secret_rotated_at: null,
    resource_version: 1,
    created_at: now.toISOString(),
    updated_at: now.toISOString(),
  };
  const stored: WithSecret = { service_principal: view, client_id: id };
  try {
    const result = await withTransaction(pool, async (client) => {
      await claimName(client, nameScope(orgId), body.name, id);
      const r = await append(client, {
        meta: metaOf(env),
        events,
        expected: [{ aggregateType: SERVICE_PRINCIPAL, aggregateId: id, seq: 0 }],
        ...(idempotency ? { idempotency: { ...idempotency, response: stored } } : {}),
        clock: clockOf(env),
      });
      if (!r.replayed) {
        await client.query(
          `INSERT INTO service_principal_secrets (service_principal_id, org_id, client_secret_hash, rotation_id, updated_at)
           VALUES ($1, $2, $3, 0, $4)`,
          [id, orgId, secretHash, now],
        );
        await audit(client, env, id, "service_principal.created", { name: body.name, scopes });
      }
      return r;
    });
    wakeReaders(pool);
    if (result.replayed) {
      return { response: result.response as WithSecret, position: result.position, replayed: true };
    }
    return { response: { ...stored, client_secret: secret }, position: result.position, replayed: false };
  } catch (err) {
    // A concurrent twin of this request may have claimed the name first.
    if (idempotency && isKernelError(err, "conflict")) {
      const replay = await findReplay(pool, idempotency);
      if (replay)
        return { response: replay.response as WithSecret, position: replay.position, replayed: true };
    }
    throw err;
  }
}

/** Narrowing scopes revokes live tokens that carry a scope no longer granted. */
export async function updateServicePrincipalScopes(
  env: SpCommandEnv,
  id: string,
  body: { scopes: readonly string[]; expected_version: number },
): Promise<Outcome<ServicePrincipalView>> {
  const scopes = sortScopes(body.scopes);
  return runCommand(env, id, {
    decide: (s) => decideUpdateScopes(s, id, env.orgId, body),
    respond: (next) => servicePrincipalView(id, next),
    after: async (client) => {
      await revokePrincipalTokens(client, id, env.now, scopes);
      await audit(client, env, id, "service_principal.scopes_updated", { scopes });
    },
  });
}

/** A new secret; the old one stops working at once, and so do tokens obtained with it. */
export async function rotateServicePrincipalSecret(
  env: SpCommandEnv,
  id: string,
): Promise<Outcome<WithSecret>> {
  const secret = newClientSecret();
  const secretHash = await hashClientSecret(secret);
  let rotationId = 0;
  const r = await runCommand<WithSecret>(env, id, {
    decide: (s) => {
      rotationId = s.rotations + 1;
      return decideRotateSecret(s, id, env.orgId, env.now);
    },
    respond: (next) => ({ service_principal: servicePrincipalView(id, next), client_id: id }),
    after: async (client) => {
      await client.query(
        `UPDATE service_principal_secrets SET client_secret_hash = $2, rotation_id = $3, updated_at = $4
          WHERE service_principal_id = $1`,
        [id, secretHash, rotationId, env.now],
      );
      await revokePrincipalTokens(client, id, env.now, null);
      await audit(client, env, id, "service_principal.secret_rotated", { rotation_id: rotationId });
    },
  });
  return r.replayed ? r : { ...r, response: { ...r.response, client_secret: secret } };
}

/** Deleting drops the secret, revokes live tokens and frees the name. */
export async function deleteServicePrincipal(env: SpCommandEnv, id: string): Promise<Outcome<null>> {
  return runCommand<null>(env, id, {
    decide: (s) => decideDeleteServicePrincipal(s, id, env.orgId),
    respond: () => null,
    after: async (client) => {
      await client.query("DELETE FROM service_principal_secrets WHERE service_principal_id = $1", [id]);
      await releaseNames(client, nameScope(env.orgId), id);
      await revokePrincipalTokens(client, id, env.now, null);
      await audit(client, env, id, "service_principal.deleted", {});
    },
  });
}

const ATTEMPTS = 3;

/**
 * One command on an existing principal, in one transaction with its side
 * tables (`after` runs only when events were appended, never on a replay).
 * A concurrent writer's `version_conflict` aborts the transaction, so the
 * whole transaction is retried; a stale `expected_version` fails in decide
 * again on the retry.
 */
async function runCommand<R>(
  env: SpCommandEnv,
  id: string,
  spec: {
    decide: (s: ServicePrincipalState) => NewEvent[];
    respond: (next: ServicePrincipalState) => R;
    after: (client: PoolClient) => Promise<void>;
  },
): Promise<Outcome<R>> {
  const meta = metaOf(env);
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await withTransaction(env.pool, async (client) => {
        const result = await handleCommand(client, {
          aggregate: servicePrincipalAggregate,
          aggregateId: id,
          meta,
          clock: clockOf(env),
          maxAttempts: 1,
          ...(env.idempotency ? { idempotency: env.idempotency } : {}),
          decide: (state, version) => {
            const events = spec.decide(state);
            const next = evolvePending(servicePrincipalAggregate, state, version, events, meta, env.now);
            return { events, response: spec.respond(next) };
          },
        });
        if (!result.replayed && result.events.length > 0) await spec.after(client);
        return result;
      });
      wakeReaders(env.pool);
      return { response: r.response, position: r.position, replayed: r.replayed };
    } catch (err) {
      if (!isKernelError(err, "version_conflict") || attempt >= ATTEMPTS) throw err;
    }
  }
}
