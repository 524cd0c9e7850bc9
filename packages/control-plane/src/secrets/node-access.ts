// Who may fetch a secret version's plaintext (spec platform.md §9.3, §4.4
// `GET /v1/nodes/{node}/secrets/{version}`, compliance 45): only a node whose
// plan holds a non-stopped instance that references that version. This is the
// rule, pure; node-routes.ts serves the endpoint with it.

/** The slice of an instance in a node's plan that the rule reads (field names as in the views). */
export interface PlannedInstance {
  instance_id: string;
  node_id: string;
  desired_state: "running" | "draining" | "stopped";
  /** allocated, preparing, booting, ready, draining, stopped, failed. */
  status: string;
  secrets_version_id?: string | null | undefined;
}

/** The slice of a node's plan the rule reads. */
export interface NodeSecretsPlan {
  node_id: string;
  instances: readonly PlannedInstance[];
}

// `stopped` and `failed` are terminal: such an instance will never start again,
// so it needs no secrets. A draining one is still running and may restart its
// process until it stops, so it keeps access.
const TERMINAL = new Set(["stopped", "failed"]);

/**
 * True when `nodeId` may read version `versionId`: the plan is that node's,
 * and one of its instances placed on that node, neither stopped nor meant to
 * stop, references the version. Anything else is a 403 for the caller.
 */
export function mayNodeReadVersion(plan: NodeSecretsPlan, nodeId: string, versionId: string): boolean {
  if (plan.node_id !== nodeId || versionId === "") return false;
  return plan.instances.some(
    (i) =>
      i.node_id === nodeId &&
      i.secrets_version_id === versionId &&
      i.desired_state !== "stopped" &&
      !TERMINAL.has(i.status),
  );
}
