// The deploy status transitions, pure (the scheduler drives them later).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isKernelError, type NewEvent, type StoredEvent } from "@plfm/kernel";
import fc from "fast-check";
import {
  canTransition,
  type DeployState,
  type DeployStatus,
  decideDeployStatus,
  deployAggregate,
  evolveDeploy,
} from "./deploy.ts";

const AT = new Date("2026-01-01T00:00:00Z");
const STATUSES: DeployStatus[] = ["queued", "rolling", "succeeded", "failed"];

function stored(e: NewEvent, seq: number): StoredEvent {
  return {
    eventId: BigInt(seq),
    txId: 1n,
    occurredAt: AT,
    aggregateType: e.aggregateType,
    aggregateId: e.aggregateId,
    aggregateSeq: seq,
    eventType: e.eventType,
    eventVersion: 1,
    actorType: "system",
    actorId: "scheduler",
    requestId: "req_1",
    orgId: e.orgId ?? null,
    appId: e.appId ?? null,
    envId: e.envId ?? null,
    correlationId: e.correlationId ?? null,
    causationId: null,
    idempotencyKey: null,
    payload: e.payload,
  };
}

const created = (): DeployState =>
  evolveDeploy(deployAggregate.initial(), {
    ...stored(
      {
        aggregateType: "deploy",
        aggregateId: "dep_1",
        eventType: "deploy.created",
        payload: {
          deploy_id: "dep_1",
          org_id: "org_1",
          app_id: "app_1",
          env_id: "env_1",
          kind: "deploy",
          release_id: "rel_1",
          process_types: ["web"],
          strategy: "rolling",
          initiated_at: AT.toISOString(),
        },
      },
      1,
    ),
  });

function move(s: DeployState, status: DeployStatus, failed_reason?: "timeout"): DeployState {
  const events = decideDeployStatus(s, "dep_1", { status, failed_reason }, AT);
  return events.reduce((acc, e, i) => evolveDeploy(acc, stored(e, s.version + i + 1)), s);
}

describe("deploy status", () => {
  test("queued → rolling → succeeded, one correlated event each", () => {
    let s = created();
    assert.equal(s.status, "queued");
    const [e] = decideDeployStatus(s, "dep_1", { status: "rolling", message: "surging" }, AT);
    assert.equal(e?.eventType, "deploy.status_changed");
    assert.equal(e?.correlationId, "dep_1");
    assert.deepEqual(e?.payload, {
      deploy_id: "dep_1",
      org_id: "org_1",
      env_id: "env_1",
      status: "rolling",
      message: "surging",
      updated_at: AT.toISOString(),
    });
    s = move(s, "rolling");
    s = move(s, "succeeded");
    assert.equal(s.status, "succeeded");
    assert.equal(s.version, 3);
  });

  test("failed needs a reason, and only failed takes one", () => {
    const s = created();
    assert.throws(
      () => decideDeployStatus(s, "dep_1", { status: "failed" }, AT),
      (e) => isKernelError(e, "invalid_argument"),
    );
    assert.throws(
      () => decideDeployStatus(s, "dep_1", { status: "rolling", failed_reason: "timeout" }, AT),
      (e) => isKernelError(e, "invalid_argument"),
    );
    const f = move(s, "failed", "timeout");
    assert.equal(f.failedReason, "timeout");
  });

  test("the same status again is a no-op; unknown deploy is not_found", () => {
    assert.deepEqual(decideDeployStatus(created(), "dep_1", { status: "queued" }, AT), []);
    assert.throws(
      () => decideDeployStatus(deployAggregate.initial(), "dep_1", { status: "rolling" }, AT),
      (e) => isKernelError(e, "not_found"),
    );
  });

  test("monotonic: any sequence of requests only moves forward, and terminal states stay", () => {
    const rank: Record<DeployStatus, number> = { queued: 0, rolling: 1, succeeded: 2, failed: 2 };
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...STATUSES), { maxLength: 12 }), (wanted) => {
        let s = created();
        for (const to of wanted) {
          const before = s.status;
          try {
            s = move(s, to, to === "failed" ? "timeout" : undefined);
          } catch (err) {
            assert.ok(isKernelError(err, "conflict"));
            assert.ok(!canTransition(before, to));
            continue;
          }
          assert.ok(rank[s.status] >= rank[before]);
          if (before === "succeeded" || before === "failed") assert.equal(s.status, before);
        }
      }),
    );
  });
});
