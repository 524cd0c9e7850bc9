// Shapes shared by the planner's pure parts. Field names are snake_case because they are
// what the canonical plan body holds (spec delta-ci.md §6.3).

/** One regular file of the commit's tree, as `git ls-tree -r -l` lists it. */
export interface TreeFile {
  path: string;
  /** Blob object id. */
  oid: string;
  size: number;
}

export interface RetryRule {
  exit_status: number[] | "*" | null;
  reason: string[];
  class: string | null;
  limit: number;
}

export interface CacheSpec {
  key: string;
  paths: string[];
  restore_keys: string[];
}

export interface ArtifactSpec {
  name: string;
  paths: string[];
  when: "always" | "on_success" | "on_failure";
  expire_days: number;
  reports: "junit" | null;
}

/** A job as the runner will get it, every template resolved. */
export interface ResolvedJobSpec {
  run: string[];
  working_directory: string;
  needs: string[];
  timeout_minutes: number;
  runner: { labels: string[]; queue: string };
  allow_failure: boolean | { exit_status: number[] };
  retry: RetryRule[];
  cache: CacheSpec[];
  artifacts: ArtifactSpec[];
  concurrency: { group: string; limit: number } | null;
  env: Record<string, string>;
  secrets: string[];
  paths: { include: string[]; exclude: string[] } | null;
}

export const FAIL_OPEN_CAUSES = [
  "no_merge_base",
  "base_missing",
  "diff_too_large",
  "git_diff_failed",
] as const;
export type FailOpenCause = (typeof FAIL_OPEN_CAUSES)[number];

/** Decision explanations, exactly the §6.3 table. */
export type ExplanationCode =
  | "no_path_filter"
  | "paths_matched"
  | "project_affected"
  | "global_input_changed"
  | "required_by"
  | "fail_open"
  | "paths_unmatched"
  | "project_unaffected";

export type SourceCode = "explicit" | "detected";
