import { type ErrorCode, type FieldProblem, httpStatusFor, isKernelError } from "@plfm/kernel";

/** Media type of every error response (RFC 7807). */
export const PROBLEM_CONTENT_TYPE = "application/problem+json; charset=utf-8";
/** Problem `type` URIs are this plus the stable code. */
export const PROBLEM_TYPE_BASE = "https://plfm.dev/problems/";

/** The error body of every API response (spec platform.md §4.1). */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** The request id, so a user can quote one string to an operator. */
  instance: string;
  code: ErrorCode;
  request_id: string;
  retryable: boolean;
  retry_after_seconds?: number;
  details?: FieldProblem[];
  [extra: string]: unknown;
}

/** A problem ready to send: status, body and extra headers. */
export interface Problem {
  status: number;
  body: ProblemDocument;
  headers: Record<string, string>;
  /** True when the fault is ours (5xx): the caller logs the original error. */
  serverFault: boolean;
}

const INTERNAL_DETAIL = "An internal error occurred. Quote the request id when reporting it.";
// Members a KernelError's `extra` may not overwrite: they are the contract.
const RESERVED = new Set([
  "type",
  "title",
  "status",
  "detail",
  "instance",
  "code",
  "request_id",
  "retryable",
]);

/** Builds the problem for a known code; `detail` is shown to the client as is. */
export function problem(
  code: ErrorCode,
  detail: string,
  requestId: string,
  options: { retryable?: boolean; details?: FieldProblem[]; extra?: Record<string, unknown> } = {},
): Problem {
  const status = httpStatusFor(code);
  const retryable = options.retryable ?? (code === "unavailable" || code === "rate_limited");
  const body: ProblemDocument = {
    type: `${PROBLEM_TYPE_BASE}${code}`,
    title: titleFor(code),
    status,
    detail,
    instance: requestId,
    code,
    request_id: requestId,
    retryable,
  };
  for (const [k, v] of Object.entries(options.extra ?? {})) if (!RESERVED.has(k)) body[k] = v;
  if (options.details && options.details.length > 0) body.details = options.details;
  const headers: Record<string, string> = {};
  // Spec §4.1: 429 and retryable 503 tell the client when to come back.
  if (status === 429 || (status === 503 && retryable)) {
    const after =
      typeof body.retry_after_seconds === "number" ? Math.max(0, Math.ceil(body.retry_after_seconds)) : 1;
    body.retry_after_seconds = after;
    headers["retry-after"] = String(after);
  }
  return { status, body, headers, serverFault: status >= 500 };
}

/**
 * Maps any thrown value to a problem. KernelErrors keep their code and message
 * (their messages are written for clients), except `internal`, whose message
 * may describe our insides. Fastify's request errors become client errors.
 * Everything else is a 500 that says nothing about the cause.
 */
export function problemFromError(err: unknown, requestId: string): Problem {
  if (isKernelError(err)) {
    const detail = err.code === "internal" ? INTERNAL_DETAIL : err.message;
    return problem(err.code, detail, requestId, {
      retryable: err.retryable,
      ...(err.details ? { details: err.details } : {}),
      ...(err.extra ? { extra: err.extra } : {}),
    });
  }
  const validation = validationProblems(err);
  if (validation) {
    // Spec §4.2: a missing or malformed expected_version has its own code.
    if (validation.some((d) => d.field === "expected_version")) {
      return problem(
        "invalid_expected_version",
        "expected_version must be an integer ≥ 0: the resource_version you last read.",
        requestId,
        { details: validation },
      );
    }
    return problem("invalid_argument", "The request is invalid.", requestId, { details: validation });
  }
  const clientStatus = requestErrorStatus(err);
  if (clientStatus !== undefined) {
    const code = CODE_BY_STATUS[clientStatus] ?? "invalid_argument";
    const fastifyOwn =
      typeof (err as { code?: unknown }).code === "string" &&
      (err as { code: string }).code.startsWith("FST_");
    // Fastify's own messages are about the request ("Body is not valid JSON…"); a parser's may not be.
    const detail = fastifyOwn ? (err as Error).message : "The request could not be parsed.";
    return problem(code, detail, requestId);
  }
  return problem("internal", INTERNAL_DETAIL, requestId);
}

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  412: "precondition_failed",
  429: "rate_limited",
};

/** The 4xx status fastify attached to a request error (bad JSON, body too large, …), if any. */
function requestErrorStatus(err: unknown): number | undefined {
  if (!(err instanceof Error)) return undefined;
  const status = (err as { statusCode?: unknown }).statusCode;
  return typeof status === "number" && status >= 400 && status < 500 ? status : undefined;
}

interface AjvIssue {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Fastify schema validation failures as field problems, or undefined when `err` is not one. */
function validationProblems(err: unknown): FieldProblem[] | undefined {
  if (
    typeof err !== "object" ||
    err === null ||
    !Array.isArray((err as { validation?: unknown }).validation)
  ) {
    return undefined;
  }
  const context = String((err as { validationContext?: unknown }).validationContext ?? "body");
  return (err as { validation: AjvIssue[] }).validation.map((issue) => {
    const path = (issue.instancePath ?? "").split("/").filter(Boolean);
    // Name the property itself when it is missing or not allowed.
    const named = issue.params?.missingProperty ?? issue.params?.additionalProperty;
    if (typeof named === "string") path.push(named);
    const fp: FieldProblem = {
      field: path.length > 0 ? path.join(".") : context,
      message: issue.message ?? "is invalid",
    };
    if (issue.keyword) fp.code = issue.keyword;
    return fp;
  });
}

/** `invalid_argument` → `Invalid argument`. */
export function titleFor(code: string): string {
  const words = code.replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}
