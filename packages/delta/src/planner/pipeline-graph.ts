// Whole-file checks on a parsed pipeline: matrix expansion with its limit, needs that
// exist and no cycles (spec delta-ci.md §6.2). Needs may name detected jobs when
// `detect: true`, so these run once detection is known.

import { MAX_MATRIX_COMBINATIONS, type PipelineConfig, type PipelineJob } from "./pipeline.ts";
import { configError } from "./yaml-nodes.ts";

export interface Expansion {
  /** `name` or `name (k=v, k2=v2)` in the matrix's key order (§2 job key). */
  key: string;
  matrix: Record<string, string>;
}

/** Cartesian product in source order, less matrix_exclude entries; at most 64. */
export function expandMatrix(job: PipelineJob): Expansion[] {
  if (job.matrix.length === 0) return [{ key: job.name, matrix: {} }];
  let combos: Record<string, string>[] = [{}];
  for (const { key, values } of job.matrix)
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  const kept = combos.filter(
    (c) => !job.matrixExclude.some((x) => Object.entries(x).every(([k, v]) => c[k] === v)),
  );
  if (kept.length > MAX_MATRIX_COMBINATIONS)
    throw configError(
      job.pos,
      `${job.path}.matrix`,
      `matrix expands to ${kept.length} combinations (limit ${MAX_MATRIX_COMBINATIONS})`,
    );
  return kept.map((m) => ({
    key: `${job.name} (${job.matrix.map(({ key }) => `${key}=${m[key]}`).join(", ")})`,
    matrix: m,
  }));
}

/** Every need names a job; the needs graph has no cycle. Throws config_error. */
export function checkNeeds(config: PipelineConfig, detectedKeys: ReadonlySet<string>): void {
  const byName = new Map(config.jobs.map((j) => [j.name, j]));
  for (const j of config.jobs) {
    for (const n of j.needs) {
      if (byName.has(n.value)) continue;
      if (config.detect && detectedKeys.has(n.value)) continue;
      const hint = detectedKeys.has(n.value) ? " (a detected job: set 'detect: true')" : "";
      throw configError(n.pos, n.path, `needs '${n.value}', which is not a job${hint}`);
    }
  }
  // Depth-first search with colours; detected jobs have no needs, so only explicit jobs can loop.
  const state = new Map<string, "active" | "done">();
  const stack: string[] = [];
  const visit = (job: PipelineJob): void => {
    state.set(job.name, "active");
    stack.push(job.name);
    for (const n of job.needs) {
      const next = byName.get(n.value);
      if (!next) continue;
      const s = state.get(next.name);
      if (s === "active") {
        const cycle = [...stack.slice(stack.indexOf(next.name)), next.name].join(" → ");
        throw configError(n.pos, n.path, `needs form a cycle: ${cycle}`);
      }
      if (s === undefined) visit(next);
    }
    stack.pop();
    state.set(job.name, "done");
  };
  for (const j of config.jobs) if (!state.has(j.name)) visit(j);
}
