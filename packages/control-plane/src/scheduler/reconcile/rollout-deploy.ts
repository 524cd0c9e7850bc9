// The group's verdict on its deploy (spec platform.md §6.3): queued → rolling
// → succeeded | failed. Only transitions are reported, since the deploy
// aggregate treats a repeated status as a no-op and would drop a new message.
// `superseded` is the caller's: it knows about newer deploys in the env.
import type {
  Decision,
  DeployFailedReason,
  DeployStatusChange,
  GroupFacts,
  InstanceFact,
  ReconcileSettings,
} from "./rollout-types.ts";

interface GroupView {
  matching: readonly InstanceFact[];
  held: readonly InstanceFact[];
}

export interface VerdictContext {
  D: number;
  halt: DeployFailedReason | null;
  drainFirst: boolean;
}

const isTerminal = (i: InstanceFact) => i.status === "stopped" || i.status === "failed";

/** Ready instances of the current spec that this decision keeps. */
function readyMatching(facts: GroupFacts, g: GroupView, drained: ReadonlySet<string>): number {
  return [...g.matching, ...g.held].filter(
    (i) => i.spec_hash === facts.group_spec_hash && i.status === "ready" && !drained.has(i.instance_id),
  ).length;
}

/** An instance of another spec that is still live after this decision (draining ones count, §6.3). */
function oldRemains(facts: GroupFacts, stopped: ReadonlySet<string>): boolean {
  return facts.instances.some(
    (i) =>
      i.desired_state !== "stopped" &&
      !isTerminal(i) &&
      !stopped.has(i.instance_id) &&
      i.spec_hash !== facts.group_spec_hash,
  );
}

function rollingMessage(facts: GroupFacts, ready: number, c: VerdictContext, d: Decision): string {
  const parts = [`rolling out release ${facts.desired_release_id ?? "(none)"}: ${ready}/${c.D} ready`];
  if (c.drainFirst && d.drain.some((x) => x.reason === "rollout_replace" || x.reason === "node_draining")) {
    parts.push(
      "no room to surge (capacity or quota): draining the old instance first, brief downtime expected",
    );
  }
  if (facts.stateful) parts.push("process has volumes: old instance drains before its replacement starts");
  return parts.join("; ");
}

/** The status change this decision implies for the group's deploy, if any. */
export function deployVerdict(
  facts: GroupFacts,
  g: GroupView,
  d: Decision,
  c: VerdictContext,
  s: ReconcileSettings,
): DeployStatusChange | undefined {
  const dep = facts.deploy;
  if (dep === null || (dep.status !== "queued" && dep.status !== "rolling")) return undefined;
  if (c.halt !== null) {
    const why =
      c.halt === "crash_loop_backoff" ? "an instance is in crash loop backoff" : "too many instance failures";
    return {
      status: "failed",
      failed_reason: c.halt,
      message: `${why}; the previous instances keep serving`,
    };
  }
  const limit = s.deploy_timeout_ms_per_process * Math.max(1, dep.process_count);
  if (facts.now_ms - dep.created_at_ms > limit) {
    return {
      status: "failed",
      failed_reason: "timeout",
      message: `not converged within ${limit / 60_000} min`,
    };
  }
  const drained = new Set(d.drain.map((x) => x.instance_id));
  const ready = readyMatching(facts, g, drained);
  const kept = g.matching.filter((i) => !drained.has(i.instance_id)).length + g.held.length;
  const converged = ready === c.D && kept === c.D && d.allocate === 0 && !oldRemains(facts, new Set(d.stop));
  if (converged && dep.status === "rolling") {
    return {
      status: "succeeded",
      message: `${ready}/${c.D} ready on release ${facts.desired_release_id ?? "(none)"}`,
    };
  }
  const acted = d.allocate > 0 || d.drain.length > 0 || d.stop.length > 0;
  if (dep.status === "queued" && (acted || converged)) {
    return { status: "rolling", message: rollingMessage(facts, ready, c, d) };
  }
  return undefined;
}
