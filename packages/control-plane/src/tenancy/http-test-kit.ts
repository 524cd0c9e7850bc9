// The tenancy tests' view of the shared harness (http/test-server.ts), with
// log capture on, plus the assertions these tests use. Not used in production.
import { assertProblem, type HttpTestServer, type Reply, startHttpTestServer } from "../http/test-server.ts";

export { assertProblem, type CallOptions, type Reply } from "../http/test-server.ts";
export type TestServer = HttpTestServer;

/** Starts `plfm server` in dev mode on a fresh database; `operators` get nodes:admin. */
export function startTestServer(operators: string[] = []): Promise<TestServer> {
  return startHttpTestServer({ operators, logLevel: "info" });
}

/** A 400 `invalid_argument` naming `field` in its details. */
export function assertInvalid(r: Reply, field: string): void {
  assertProblem(r, 400, "invalid_argument", field);
}

/** A 400 `invalid_expected_version` (spec §4.2) naming `expected_version`. */
export function assertInvalidVersion(r: Reply): void {
  assertProblem(r, 400, "invalid_expected_version", "expected_version");
}

/** Dev bearer token of a user. */
export const user = (email: string) => `Bearer user:${email}`;
