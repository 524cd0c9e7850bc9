import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { createLogger, createPool, freePort, KernelError } from "@plfm/kernel";
import { createTestDatabase, type TestDatabase } from "@plfm/testing";
import type { FastifyInstance } from "fastify";
import { databaseReadiness, type ReadinessCheck } from "../readiness.ts";
import { buildApp } from "./app.ts";
import { createServerMetrics } from "./metrics.ts";

const REQ_ID = /^req_[0-9A-HJKMNP-TV-Z]{26}$/;

let db: TestDatabase;
let migrationNames: string[];
const logLines: string[] = [];
const logger = createLogger({
  name: "plfm-test",
  level: "debug",
  destination: { write: (l) => logLines.push(l) },
});
const started: FastifyInstance[] = [];

/** Builds the app with a few test-only routes and listens on a real loopback socket. */
async function startApp(readiness: ReadinessCheck): Promise<string> {
  const app = buildApp({ logger, metrics: createServerMetrics("plfm"), readiness });
  app.get<{ Params: { code: string } }>("/test/kernel-error/:code", async (request) => {
    const code = request.params.code as ConstructorParameters<typeof KernelError>[0];
    throw new KernelError(code, `thrown with ${code}`, {
      details: [{ field: "name", code: "too_long", message: "at most 63 characters" }],
    });
  });
  app.get("/test/boom", async () => {
    throw new Error("password=hunter2 at db.internal:5432");
  });
  app.get("/test/kernel-internal", async () => {
    throw new KernelError("internal", "pool exhausted on db.internal");
  });
  app.post(
    "/test/validated",
    {
      schema: {
        body: { type: "object", required: ["name"], properties: { name: { type: "string", maxLength: 5 } } },
      },
    },
    async () => ({ ok: true }),
  );
  await app.listen({ host: "127.0.0.1", port: 0 });
  started.push(app);
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

let base: string;
before(async () => {
  db = await createTestDatabase({ poolSize: 3 });
  const { rows } = await db.pool.query<{ name: string }>("SELECT name FROM schema_migrations");
  migrationNames = rows.map((r) => r.name);
  assert.ok(migrationNames.length > 0);
  base = await startApp(databaseReadiness(db.pool, migrationNames));
});
after(async () => {
  for (const app of started) await app.close();
  await db.drop();
});

async function problemOf(res: Response): Promise<Record<string, unknown>> {
  assert.match(res.headers.get("content-type") ?? "", /^application\/problem\+json/);
  const body = (await res.json()) as Record<string, unknown>;
  const id = res.headers.get("x-request-id");
  assert.equal(body.request_id, id, "request_id is the X-Request-Id header");
  assert.equal(body.instance, id, "instance is the request id");
  assert.equal(body.status, res.status);
  assert.equal(body.type, `https://plfm.dev/problems/${body.code}`);
  assert.equal(typeof body.title, "string");
  assert.equal(typeof body.detail, "string");
  assert.equal(typeof body.retryable, "boolean");
  return body;
}

describe("health endpoints", () => {
  test("/healthz and /livez answer 200 with a generated request id", async () => {
    for (const path of ["/healthz", "/livez"]) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: "ok" });
      assert.match(res.headers.get("x-request-id") ?? "", REQ_ID);
    }
  });

  test("/readyz is 200 when the database answers and the migrations are applied", async () => {
    const res = await fetch(`${base}/readyz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: "ok" });
  });

  test("/readyz is 503 unavailable when a required migration is missing", async () => {
    const url = await startApp(databaseReadiness(db.pool, [...migrationNames, "kernel/9999_not_yet.sql"]));
    const res = await fetch(`${url}/readyz`);
    assert.equal(res.status, 503);
    const body = await problemOf(res);
    assert.equal(body.code, "unavailable");
    assert.equal(body.retryable, true);
    assert.match(String(body.detail), /1 required migration/);
    assert.equal(res.headers.get("retry-after"), "1");
  });

  test("/readyz is 503 when the database cannot be reached", async () => {
    const pool = createPool(`postgres://postgres@127.0.0.1:${await freePort()}/nothing`, { max: 1 });
    try {
      const url = await startApp(databaseReadiness(pool, migrationNames));
      const res = await fetch(`${url}/readyz`);
      assert.equal(res.status, 503);
      const body = await problemOf(res);
      assert.equal(body.code, "unavailable");
      assert.doesNotMatch(String(body.detail), /127\.0\.0\.1/, "no connection details in the probe");
    } finally {
      await pool.end();
    }
  });

  test("/metrics serves Prometheus text with kernel, HTTP and process metrics", async () => {
    await fetch(`${base}/healthz`);
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.match(text, /^# TYPE plfm_events_appended_total counter$/m);
    assert.match(text, /^# TYPE plfm_projection_lag_events gauge$/m);
    assert.match(
      text,
      /^plfm_http_requests_total\{method="GET",path_template="\/healthz",status="200"\} \d+/m,
    );
    assert.match(text, /^process_cpu_user_seconds_total /m);
  });
});

describe("request ids", () => {
  test("a valid incoming X-Request-Id is echoed, in the header and in problems", async () => {
    const id = "trace 42/abc-DEF.x";
    const ok = await fetch(`${base}/healthz`, { headers: { "x-request-id": id } });
    assert.equal(ok.headers.get("x-request-id"), id);
    const missing = await fetch(`${base}/nope`, { headers: { "x-request-id": id } });
    assert.equal((await problemOf(missing)).request_id, id);
  });

  test("an invalid one is replaced by req_<ULID>", async () => {
    for (const bad of ["x".repeat(129), "   "]) {
      const res = await fetch(`${base}/healthz`, { headers: { "x-request-id": bad } });
      assert.match(res.headers.get("x-request-id") ?? "", REQ_ID, JSON.stringify(bad));
    }
    const max = "y".repeat(128);
    const res = await fetch(`${base}/healthz`, { headers: { "x-request-id": max } });
    assert.equal(res.headers.get("x-request-id"), max);
  });
});

describe("errors are RFC 7807 problems", () => {
  test("an unknown route is 404 not_found", async () => {
    const res = await fetch(`${base}/v1/nothing-here?token=abc`);
    assert.equal(res.status, 404);
    const body = await problemOf(res);
    assert.equal(body.code, "not_found");
    assert.equal(body.title, "Not found");
    assert.doesNotMatch(String(body.detail), /token/, "query strings are not echoed");
  });

  test("a KernelError keeps its code, message and details, with the status of its code", async () => {
    const cases = [
      ["version_conflict", 409, true],
      ["forbidden", 403, false],
      ["projection_timeout", 504, false],
      ["invalid_cursor", 400, false],
    ] as const;
    for (const [code, status, retryable] of cases) {
      const res = await fetch(`${base}/test/kernel-error/${code}`);
      assert.equal(res.status, status, code);
      const body = await problemOf(res);
      assert.equal(body.code, code);
      assert.equal(body.detail, `thrown with ${code}`);
      assert.equal(body.retryable, retryable);
      assert.deepEqual(body.details, [{ field: "name", code: "too_long", message: "at most 63 characters" }]);
    }
  });

  test("retryable 503 and 429 carry Retry-After", async () => {
    for (const [code, status] of [
      ["unavailable", 503],
      ["rate_limited", 429],
    ] as const) {
      const res = await fetch(`${base}/test/kernel-error/${code}`);
      assert.equal(res.status, status);
      assert.equal(res.headers.get("retry-after"), "1");
      assert.equal((await problemOf(res)).retry_after_seconds, 1);
    }
  });

  test("an unexpected error is a 500 internal that leaks nothing", async () => {
    for (const path of ["/test/boom", "/test/kernel-internal"]) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 500);
      const text = await res.text();
      const body = JSON.parse(text) as Record<string, unknown>;
      assert.equal(body.code, "internal");
      assert.equal(body.retryable, false);
      assert.doesNotMatch(text, /hunter2|db\.internal|pool exhausted|Error|stack/);
      // The operator still gets the cause, keyed by the request id the client saw.
      const id = res.headers.get("x-request-id");
      const logged = logLines.find((l) => l.includes(`"request_id":"${id}"`) && l.includes('"level":50'));
      assert.ok(logged, "the 500 is logged with its request id");
    }
  });

  test("schema validation failures are 400 invalid_argument with field details", async () => {
    const res = await fetch(`${base}/test/validated`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({}),
    });
    assert.equal(res.status, 400);
    const body = await problemOf(res);
    assert.equal(body.code, "invalid_argument");
    assert.deepEqual(
      (body.details as { field: string }[]).map((d) => d.field),
      ["name"],
    );
  });

  test("a body that is not JSON is 400 invalid_argument", async () => {
    const res = await fetch(`${base}/test/validated`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    assert.equal(res.status, 400);
    assert.equal((await problemOf(res)).code, "invalid_argument");
  });
});

describe("request logs", () => {
  test("one JSON line per request, with the request id and never the Authorization header", async () => {
    const secret = "plfm_at_c2VjcmV0LXRva2VuLXZhbHVl";
    const res = await fetch(`${base}/nope?access_token=${secret}`, {
      headers: { authorization: `Bearer ${secret}`, "x-request-id": "log-check-1" },
    });
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, 20)); // onResponse runs after the body is flushed
    const lines = logLines.filter((l) => l.includes('"request_id":"log-check-1"'));
    assert.ok(lines.length >= 1, "the request is logged");
    const done = JSON.parse(lines.find((l) => l.includes("request completed")) ?? "{}") as Record<
      string,
      unknown
    >;
    assert.equal(done.status, 404);
    assert.equal(done.path, "/nope");
    for (const l of logLines) assert.ok(!l.includes(secret), `secret in log line: ${l}`);
  });
});
