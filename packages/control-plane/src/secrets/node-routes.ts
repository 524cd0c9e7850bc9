// GET /v1/nodes/{node}/secrets/{version} (spec platform.md §4.4, §9.3,
// compliance 45): the one place plaintext leaves the control plane, to the
// node that hosts an instance referencing that version. Every delivery is
// audited (§4.5); the value itself goes only into the response body.
import { KernelError, type Queryable } from "@plfm/kernel";
import type { FastifyInstance } from "fastify";
import { Type } from "typebox";
import { addNodeRoute } from "../fleet/index.ts";
import { idSchema as id } from "../http/ids.ts";
import type { RouteDeps } from "../http/route.ts";
import { recordAudit } from "../tenancy/audit.ts";
import { requireKeyring } from "./keyring-config.ts";
import { mayNodeReadVersion, type PlannedInstance } from "./node-access.ts";
import { mappingSecretsErrors } from "./problems.ts";
import { readSecretMaterial } from "./store.ts";

const Params = Type.Object({ node: id("node"), version: id("sv") }, { additionalProperties: false });
const Material = Type.Object({
  version_id: Type.String(),
  format: Type.String(),
  data_hash: Type.String(),
  data: Type.String({ description: "The canonical platform_env_v1 file" }),
});

/** The node's instances that reference `versionId`, as the access rule reads them. */
async function instancesUsing(db: Queryable, nodeId: string, versionId: string): Promise<PlannedInstance[]> {
  const { rows } = await db.query<PlannedInstance>(
    `SELECT instance_id, node_id, desired_state, status, secrets_version_id
       FROM instances WHERE node_id = $1 AND secrets_version_id = $2`,
    [nodeId, versionId],
  );
  return rows;
}

export function registerSecretsNodeRoutes(app: FastifyInstance, deps: RouteDeps): void {
  addNodeRoute(app, deps.pool, deps.now, {
    method: "GET",
    url: "/v1/nodes/:node/secrets/:version",
    operationId: "nodes.secrets.read",
    summary: "A secrets version's canonical file, for a node hosting an instance that uses it",
    params: Params,
    response: { 200: Material },
    handler: async ({ nodeId, request }) => {
      const { version } = request.params as { version: string };
      const instances = await instancesUsing(deps.pool, nodeId, version);
      // One answer for "no such version" and "not yours": a node learns nothing about other envs.
      if (!mayNodeReadVersion({ node_id: nodeId, instances }, nodeId, version)) {
        throw new KernelError(
          "forbidden",
          "This node hosts no live instance that uses this secrets version.",
        );
      }
      const keyring = requireKeyring(deps.keyring);
      const material = await mappingSecretsErrors(() => readSecretMaterial(deps.pool, keyring, version));
      if (!material) throw new KernelError("forbidden", "No such secrets version for this node.");
      await recordAudit(
        deps.pool,
        {
          org_id: material.scope.org_id,
          actor_type: "node",
          actor_id: nodeId,
          action: "secret_version.delivered",
          target_type: "secret_version",
          target_id: material.version_id,
          request_id: request.id,
          details: {
            app_id: material.scope.app_id,
            env_id: material.scope.env_id,
            bundle_id: material.scope.bundle_id,
            data_hash: material.data_hash,
          },
        },
        request.log,
      );
      const { scope: _scope, ...body } = material;
      return { status: 200, body };
    },
  });
}
