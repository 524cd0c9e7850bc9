// The per-group reconcile core (spec platform.md §6.3): given what one
// (env, process type) has and wants, decide how many instances to allocate,
// which to drain and which to record stopped. Pure: time is `now_ms`; placement
// (which nodes) is the caller's next step.
//
// Every instance the group has is in exactly one of these sets:
// - leaving: desired draining; recorded stopped once the node reports stopped
//   or failed, once drain grace + 30 s pass, or at once on a lost node;
// - spent: desired running but terminal (stopped/failed) → drained `failed_replace`;
// - lost: on an offline/disabled node; stateless → drained and stopped at once,
//   stateful → kept and the group blocked `volume_home_node_offline`;
// - held: stateful on a draining node; kept (`drain_blocked`), never moved here;
// - matching: spec_hash = group hash, on a usable node;
// - outgoing: the rest (old spec, or stateless on a draining node).

import { deployVerdict } from "./rollout-deploy.ts";
import {
  type Block,
  DEFAULT_RECONCILE_SETTINGS,
  type Decision,
  type DeployFailedReason,
  type DrainReason,
  type GroupFacts,
  type InstanceFact,
  type ReconcileSettings,
} from "./rollout-types.ts";
import { victimOrder } from "./victims.ts";

/** Blocks that mean the new spec cannot start at all: allocating or rolling would only cost availability. */
const PRE_PLACEMENT_BLOCKS = new Set([
  "secrets_missing",
  "volume_constraints_invalid",
  "volume_home_node_offline",
]);

const isTerminal = (i: InstanceFact) => i.status === "stopped" || i.status === "failed";
const isLostNode = (i: InstanceFact) => i.node_state === "offline" || i.node_state === "disabled";

export interface Groups {
  leaving: InstanceFact[];
  spent: InstanceFact[];
  lost: InstanceFact[];
  held: InstanceFact[];
  matching: InstanceFact[];
  outgoing: { inst: InstanceFact; reason: DrainReason }[];
}

/** Sorts the group's instances into the sets of the header comment. */
export function classify(facts: GroupFacts): Groups {
  const g: Groups = { leaving: [], spent: [], lost: [], held: [], matching: [], outgoing: [] };
  for (const i of facts.instances) {
    if (i.desired_state === "stopped") continue;
    if (i.desired_state === "draining") g.leaving.push(i);
    else if (isTerminal(i)) g.spent.push(i);
    else if (isLostNode(i)) g.lost.push(i);
    else if (i.node_state === "draining" && facts.stateful) g.held.push(i);
    else if (i.node_state === "draining") g.outgoing.push({ inst: i, reason: "node_draining" });
    else if (i.spec_hash === facts.group_spec_hash) g.matching.push(i);
    else g.outgoing.push({ inst: i, reason: "rollout_replace" });
  }
  return g;
}

/** Why the new spec must stop being tried (§6.3), or null. */
export function failureHalt(facts: GroupFacts, s: ReconcileSettings): DeployFailedReason | null {
  if (facts.failures_this_deploy.some((f) => f.reason_code === "crash_loop_backoff"))
    return "crash_loop_backoff";
  const since = facts.now_ms - s.failure_window_ms;
  const recent = facts.failures_this_deploy.filter((f) => f.at_ms > since).length;
  return recent > s.max_failures_per_window ? "too_many_failures" : null;
}

function forcedStopDue(i: InstanceFact, facts: GroupFacts, s: ReconcileSettings): boolean {
  const started = i.drain_started_at_ms ?? i.updated_at_ms;
  const grace = (i.drain_grace_seconds ?? s.default_drain_grace_seconds) * 1000;
  return facts.now_ms >= started + grace + s.force_stop_after_grace_ms;
}

/**
 * Drains decided so far, and the stops. Returns whether any drain is still in
 * flight after this decision (stateful groups wait for none).
 */
function settleLeaving(g: Groups, facts: GroupFacts, s: ReconcileSettings, d: Decision): boolean {
  let inFlight = false;
  for (const i of g.leaving) {
    const lostStateless = !facts.stateful && isLostNode(i);
    if (isTerminal(i) || lostStateless || forcedStopDue(i, facts, s)) d.stop.push(i.instance_id);
    else inFlight = true;
  }
  for (const i of g.spent) d.drain.push({ instance_id: i.instance_id, reason: "failed_replace" });
  for (const i of g.lost) {
    if (facts.stateful) continue;
    // The node cannot report, so the drain is recorded and closed in one go (§6.3 "old recorded stopped").
    d.drain.push({
      instance_id: i.instance_id,
      reason: i.node_state === "offline" ? "node_offline" : "node_disabled",
    });
    d.stop.push(i.instance_id);
  }
  return inFlight;
}

interface Plan {
  frozen: boolean;
  D: number;
  drainFirst: boolean;
}

/**
 * Stateless, surge s = 1, unavailable u = 0 (s = 0, u = 1 only for one
 * replica without room to surge). Per decision:
 * 1. matching beyond D go in victim order (`scale_down`);
 * 2. unless frozen: outgoing that are not ready go at once (they serve nothing);
 *    ready outgoing go while readyMatching + readyOutgoing − drained ≥ D − u;
 * 3. allocate D − |matching|, capped while outgoing remain so matching +
 *    outgoing ≤ D + s. With no outgoing left the whole shortfall goes at once.
 * Steady state: surge one, it turns ready, one old goes and one more is
 * allocated in the same decision; so at most one ready old instance is
 * drained per new ready instance and ready never dips below D.
 */
function planStateless(g: Groups, facts: GroupFacts, p: Plan, d: Decision): void {
  let matching = g.matching;
  if (matching.length > p.D) {
    const extra = victimOrder(matching, facts.node_load).slice(0, matching.length - p.D);
    const gone = new Set(extra.map((i) => i.instance_id));
    for (const i of extra) d.drain.push({ instance_id: i.instance_id, reason: "scale_down" });
    matching = matching.filter((i) => !gone.has(i.instance_id));
  }
  if (p.frozen) return;
  const readyOut: typeof g.outgoing = [];
  for (const o of g.outgoing) {
    if (o.inst.status === "ready") readyOut.push(o);
    else d.drain.push({ instance_id: o.inst.instance_id, reason: o.reason });
  }
  const u = p.drainFirst ? 1 : 0;
  const readyMatching = matching.filter((i) => i.status === "ready").length;
  const k = Math.max(0, Math.min(readyOut.length, readyMatching + readyOut.length - (p.D - u)));
  const order = victimOrder(
    readyOut.map((o) => o.inst),
    facts.node_load,
  ).slice(0, k);
  const reasonOf = new Map(readyOut.map((o) => [o.inst.instance_id, o.reason]));
  for (const i of order)
    d.drain.push({ instance_id: i.instance_id, reason: reasonOf.get(i.instance_id) ?? "rollout_replace" });
  const remaining = readyOut.length - k;
  const shortfall = p.D - matching.length;
  d.allocate = Math.max(
    0,
    remaining > 0 ? Math.min(shortfall, p.D + (1 - u) - matching.length - remaining) : shortfall,
  );
}

/**
 * Stateful (mounts): the volume admits one live instance, so old instances are
 * drained first and the replacement waits until no drain is in flight (the
 * node reported stopped, or the drain was forced after grace + 30 s). Held
 * and lost instances still own the volume: nothing is allocated beside them.
 */
function planStateful(g: Groups, facts: GroupFacts, p: Plan, inFlight: boolean, d: Decision): void {
  const present = g.matching.length + g.held.length + g.lost.length;
  if (present > p.D) {
    const extra = victimOrder(g.matching, facts.node_load).slice(0, present - p.D);
    for (const i of extra) d.drain.push({ instance_id: i.instance_id, reason: "scale_down" });
  }
  if (p.frozen) return;
  for (const o of g.outgoing) d.drain.push({ instance_id: o.inst.instance_id, reason: o.reason });
  const waiting = inFlight || g.outgoing.length > 0;
  d.allocate = waiting ? 0 : Math.max(0, p.D - present);
}

/** Scale to zero (or no desired release): everything the group still runs goes, stateful or not. */
function planZero(g: Groups, facts: GroupFacts, d: Decision): void {
  const live = [
    ...g.matching,
    ...g.held,
    ...g.outgoing.map((o) => o.inst),
    ...(facts.stateful ? g.lost : []),
  ];
  for (const i of live) d.drain.push({ instance_id: i.instance_id, reason: "scale_down" });
}

function lostBlock(g: Groups, facts: GroupFacts): Block | null {
  if (!facts.stateful || g.lost.length === 0) return null;
  const detail = g.lost
    .map((i) => `instance ${i.instance_id} on node ${i.node_id} (${i.node_state})`)
    .join("; ");
  return { reason: "volume_home_node_offline", detail };
}

/** Edge-triggered (compliance 39): block on a new reason, unblock when it clears. */
function blockChange(now: Block | null, last: string | null, d: Decision): void {
  if (now !== null && now.reason !== last) d.block = now;
  else if (now === null && last !== null) d.unblock = true;
}

/** One reconcile decision for one (env, process type). Pure and deterministic. */
export function reconcileGroup(
  facts: GroupFacts,
  settings: ReconcileSettings = DEFAULT_RECONCILE_SETTINGS,
): Decision {
  const d: Decision = { allocate: 0, drain: [], stop: [], drain_blocked: [], blocked: null };
  const D = facts.group_spec_hash === null ? 0 : Math.max(0, facts.desired_replicas);
  const g = classify(facts);
  const inFlight = settleLeaving(g, facts, settings, d);
  if (D > 0) d.drain_blocked = g.held.map((i) => i.instance_id);
  const halt = D > 0 ? failureHalt(facts, settings) : null;
  const block = D > 0 ? (lostBlock(g, facts) ?? facts.blocked_reason_now) : null;
  const frozen = halt !== null || (block !== null && PRE_PLACEMENT_BLOCKS.has(block.reason));
  const drainFirst = D === 1 && facts.surge_possible === false && !facts.stateful;
  const plan: Plan = { frozen, D, drainFirst };
  if (D === 0) planZero(g, facts, d);
  else if (facts.stateful) planStateful(g, facts, plan, inFlight, d);
  else planStateless(g, facts, plan, d);
  d.blocked = block;
  blockChange(block, facts.last_recorded_block, d);
  const verdict = deployVerdict(facts, g, d, { D, halt, drainFirst }, settings);
  if (verdict !== undefined) d.deploy_status = verdict;
  return d;
}
