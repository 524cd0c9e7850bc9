// `GET E/why` (spec platform.md §4.4, §6.2), the pure part: per process type,
// desired against current, the blocker with the facts behind it, and the
// events that led there, plus one human sentence per process.
import type { WireEvent } from "@plfm/kernel";
import type { ProcessStatus } from "../apps/status.ts";
import { reasonOf } from "./placement/blocking.ts";
import type { NodeRejection } from "./placement/types.ts";

/** An env_scheduling row: the last recorded block (or unblock) of a process type. */
export interface SchedulingRow {
  process_type: string;
  blocked: boolean;
  reason: string | null;
  detail: string | null;
  since: string;
}

/** A scheduler_status row: what the reconciler's last pass over the group concluded. */
export interface SchedulerStatusRow {
  process_type: string;
  last_reconcile_at: string;
  last_error: string | null;
  blocked_reason: string | null;
  blocked_detail: string | null;
  /** As the reconciler stored it: [{node_id, reason, detail, facts{…}}] for the nodes considered. */
  blocked_facts: unknown[] | null;
}

/** One node considered, and why it was rejected; extra keys pass through from scheduler_status. */
export type BlockFact = { node_id?: string; reason?: string; detail?: string } & Record<string, unknown>;

export interface Blocker {
  reason: string;
  detail: string | null;
  since: string;
  facts: BlockFact[];
}

export interface WhyProcess {
  process_type: string;
  desired: number;
  current: { ready: number; booting: number; draining: number; failed: number; release_id: string | null };
  desired_release_id: string | null;
  release_synced: boolean;
  blockers: Blocker[];
  last_reconcile_at: string | null;
  last_error: string | null;
  events: WireEvent[];
}

export interface Why {
  env_id: string;
  processes: WhyProcess[];
  explanation: string[];
}

const asFacts = (v: unknown[] | null): BlockFact[] =>
  (v ?? []).filter((f): f is BlockFact => typeof f === "object" && f !== null && !Array.isArray(f));

/**
 * The process's blockers. The log's record (env_scheduling) is authoritative
 * for the reason and since when; the facts come from the reconciler's last
 * pass when it concluded the same reason. A block the last pass saw but the
 * log does not show yet (the event is still on its way to the view) is
 * reported too, since = that pass. At most one: the scheduler keeps one
 * reason per group (§6.2).
 */
export function blockersOf(
  sched: SchedulingRow | undefined,
  status: SchedulerStatusRow | undefined,
): Blocker[] {
  if (sched?.blocked && sched.reason) {
    const same = status?.blocked_reason === sched.reason;
    return [
      {
        reason: sched.reason,
        detail: sched.detail ?? (same ? (status?.blocked_detail ?? null) : null),
        since: sched.since,
        facts: same ? asFacts(status?.blocked_facts ?? null) : [],
      },
    ];
  }
  if (status?.blocked_reason) {
    return [
      {
        reason: status.blocked_reason,
        detail: status.blocked_detail,
        since: status.last_reconcile_at,
        facts: asFacts(status.blocked_facts),
      },
    ];
  }
  return [];
}

/** The node fact that best illustrates a blocker: one whose rejection maps to its reason, else the first. */
function exampleFact(b: Blocker): BlockFact | undefined {
  const matching = b.facts.find(
    (f) => typeof f.reason === "string" && reasonOf({ reason: f.reason } as NodeRejection) === b.reason,
  );
  return matching ?? b.facts[0];
}

/** e.g. "web: 1 of 3 ready, 1 booting; blocked no_capacity_memory: node_… memory committed … > …". */
export function explain(p: WhyProcess): string {
  const c = p.current;
  const parts = [`${p.process_type}: ${c.ready} of ${p.desired} ready`];
  if (c.booting > 0) parts.push(`${c.booting} booting`);
  if (c.draining > 0) parts.push(`${c.draining} draining`);
  if (c.failed > 0) parts.push(`${c.failed} failed`);
  let s = parts.join(", ");
  if (!p.release_synced && p.desired_release_id) s += `; rolling out ${p.desired_release_id}`;
  for (const b of p.blockers) {
    const f = exampleFact(b);
    const why = f?.node_id && f.detail ? `${f.node_id}: ${f.detail}` : (b.detail ?? f?.detail ?? "");
    s += `; blocked ${b.reason}${why ? `: ${why}` : ""}`;
  }
  if (p.last_error) s += `; last error: ${p.last_error}`;
  return s;
}

/** Assembles the answer; `events` per process type, oldest first. */
export function assembleWhy(input: {
  envId: string;
  processes: readonly ProcessStatus[];
  scheduling: readonly SchedulingRow[];
  statuses: readonly SchedulerStatusRow[];
  events: ReadonlyMap<string, WireEvent[]>;
}): Why {
  const sched = new Map(input.scheduling.map((r) => [r.process_type, r]));
  const status = new Map(input.statuses.map((r) => [r.process_type, r]));
  const processes = input.processes.map((p): WhyProcess => {
    const st = status.get(p.process_type);
    return {
      process_type: p.process_type,
      desired: p.desired,
      current: {
        ready: p.ready,
        booting: p.booting,
        draining: p.draining,
        failed: p.failed,
        release_id: p.current_release_id,
      },
      desired_release_id: p.desired_release_id,
      release_synced: p.release_synced,
      blockers: blockersOf(sched.get(p.process_type), st),
      last_reconcile_at: st?.last_reconcile_at ?? null,
      last_error: st?.last_error ?? null,
      events: input.events.get(p.process_type) ?? [],
    };
  });
  return { env_id: input.envId, processes, explanation: processes.map(explain) };
}
