// Test support: places an instance the way the scheduler will, by appending
// `instance.allocated` through the kernel, and waits for the instances view.
// Not used in production.
import assert from "node:assert/strict";
import { append, type KernelRuntime, newId, type Pool } from "@plfm/kernel";

export interface AllocateOptions {
  orgId: string;
  appId: string;
  envId: string;
  nodeId: string;
  processType?: string;
  releaseId?: string;
  secretsVersionId?: string;
  overlayIpv6?: string;
}

/** Appends `instance.allocated` and returns the new instance id once the view shows it. */
export async function allocateInstance(
  t: { db: { pool: Pool }; server: { kernel: KernelRuntime } },
  o: AllocateOptions,
): Promise<string> {
  const instanceId = newId("inst");
  const r = await append(t.db.pool, {
    meta: { actorType: "system", actorId: "scheduler", requestId: newId("req") },
    events: [
      {
        aggregateType: "instance",
        aggregateId: instanceId,
        eventType: "instance.allocated",
        orgId: o.orgId,
        appId: o.appId,
        envId: o.envId,
        payload: {
          instance_id: instanceId,
          org_id: o.orgId,
          app_id: o.appId,
          env_id: o.envId,
          process_type: o.processType ?? "web",
          node_id: o.nodeId,
          desired_state: "running",
          release_id: o.releaseId ?? newId("rel"),
          ...(o.secretsVersionId ? { secrets_version_id: o.secretsVersionId } : {}),
          overlay_ipv6: o.overlayIpv6 ?? "fd70:6c66:0:1::10",
          resources_snapshot: {
            cpu_request: 0.5,
            memory_limit_bytes: 268435456,
            ephemeral_disk_bytes: 4294967296,
          },
          spec_hash: "h1",
        },
      },
    ],
  });
  assert.equal(r.replayed, false);
  await t.server.kernel.watcher.waitFor(r.position, ["instances"], { timeoutMs: 10_000 });
  return instanceId;
}
