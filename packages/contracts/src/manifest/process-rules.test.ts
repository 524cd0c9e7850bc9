// Rules inside [processes.<name>]: names, command, restart, resources, scaling,
// ports, health, and the v1 rejections that live there (mounts: mount-rules.test.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { MANIFEST_ERROR_CODES as E } from "./errors.ts";
import { HEAD, onlyError, valid, web } from "./test-support.ts";

const res = (r: string) => ({ resources: `resources = { ${r} }` });

test("process names: ^[a-z][a-z0-9-]{0,31}$, and at least one process", () => {
  valid(`${HEAD}[processes.${"w".repeat(32)}]\nresources = { memory = "64Mi" }`);
  valid(`${HEAD}[processes.constructor]\nresources = { memory = "64Mi" }`);
  onlyError(`${HEAD}[processes.Web]\nresources = { memory = "64Mi" }`, "processes.Web", E.E_PATTERN);
  onlyError(`${HEAD}[processes.web_1]\nresources = { memory = "64Mi" }`, "processes.web_1", E.E_PATTERN);
  onlyError(
    `${HEAD}[processes.${"w".repeat(33)}]\nresources = { memory = "64Mi" }`,
    `processes.${"w".repeat(33)}`,
    E.E_PATTERN,
  );
  onlyError(HEAD, "processes", E.E_REQUIRED);
  onlyError(`schema_version = "v1"\nprocesses = {}\n[image]\nref = "a:1"`, "processes", E.E_REQUIRED);
});

test("command is a non-empty array of strings", () => {
  assert.deepEqual(valid(web('command = ["sh", "-c", ""]')).manifest.processes.web?.command, [
    "sh",
    "-c",
    "",
  ]);
  onlyError(web('command = "npm start"'), "processes.web.command", E.E_TYPE);
  onlyError(web("command = []"), "processes.web.command", E.E_RANGE);
  onlyError(web('command = ["", "x"]'), "processes.web.command[0]", E.E_PATTERN);
  onlyError(web('command = ["node", 1]'), "processes.web.command[1]", E.E_TYPE);
});

test("process workdir, user, vars and prestart follow the [env] rules", () => {
  onlyError(web('workdir = "app"'), "processes.web.workdir", E.E_PATTERN);
  onlyError(web('vars = { "bad-key" = "1" }'), "processes.web.vars.bad-key", E.E_PATTERN);
  onlyError(web('vars = { "A.B" = "1" }'), 'processes.web.vars."A.B"', E.E_PATTERN);
  onlyError(web("vars = { N = 1 }"), "processes.web.vars.N", E.E_TYPE);
  onlyError(web("prestart_timeout_seconds = 0"), "processes.web.prestart_timeout_seconds", E.E_RANGE);
  assert.equal(
    valid(web("prestart_timeout_seconds = 5")).manifest.processes.web?.prestart_timeout_seconds,
    5,
  );
});

test("restart: policy enum, max_retries only for on-failure, backoff", () => {
  assert.deepEqual(valid(web('restart = { policy = "on-failure" }')).manifest.processes.web?.restart, {
    policy: "on-failure",
    max_retries: 3,
    backoff_seconds: 2,
  });
  assert.deepEqual(
    valid(web('restart = { policy = "on-failure", max_retries = 0 }')).manifest.processes.web?.restart,
    {
      policy: "on-failure",
      max_retries: 0,
      backoff_seconds: 2,
    },
  );
  onlyError(web('restart = { policy = "sometimes" }'), "processes.web.restart.policy", E.E_ENUM);
  onlyError(web("restart = { max_retries = 3 }"), "processes.web.restart.max_retries", E.E_NOT_APPLICABLE);
  onlyError(
    web('restart = { policy = "never", max_retries = 1 }'),
    "processes.web.restart.max_retries",
    E.E_NOT_APPLICABLE,
  );
  onlyError(web("restart = { backoff_seconds = -1 }"), "processes.web.restart.backoff_seconds", E.E_RANGE);
});

test("resources.memory is required, ^[0-9]+(Mi|Gi)$ and at least 64Mi (checklist 28)", () => {
  onlyError(web("", { resources: "" }), "processes.web.resources.memory", E.E_REQUIRED);
  onlyError(web("", res("cpu = 1.0")), "processes.web.resources.memory", E.E_REQUIRED);
  onlyError(web("", res('memory = "512MB"')), "processes.web.resources.memory", E.E_PATTERN);
  onlyError(web("", res('memory = "0.5Gi"')), "processes.web.resources.memory", E.E_PATTERN);
  onlyError(web("", res('memory = "512mi"')), "processes.web.resources.memory", E.E_PATTERN);
  onlyError(web("", res("memory = 512")), "processes.web.resources.memory", E.E_TYPE);
  onlyError(web("", res('memory = "63Mi"')), "processes.web.resources.memory", E.E_RANGE, /at least 64Mi/);
  onlyError(web("", res('memory = "0Gi"')), "processes.web.resources.memory", E.E_RANGE);
  onlyError(web("", { resources: "resources = 1" }), "processes.web.resources", E.E_TYPE);
  assert.equal(valid(web("", res('memory = "64Mi"'))).manifest.processes.web?.resources.memory, "64Mi");
  assert.equal(valid(web("", res('memory = "3072Mi"'))).manifest.processes.web?.resources.memory, "3Gi");
  assert.equal(valid(web("", res('memory = "1536Mi"'))).manifest.processes.web?.resources.memory, "1536Mi");
});

test("resources.cpu: a number with 0 < cpu <= 64, default 1.0", () => {
  const cpu = (v: string) =>
    valid(web("", res(`memory = "64Mi", cpu = ${v}`))).manifest.processes.web?.resources.cpu;
  assert.equal(cpu("64"), 64);
  assert.equal(cpu("0.25"), 0.25);
  assert.equal(cpu("2"), 2);
  for (const bad of ["0", "0.0", "-1", "64.01", "inf", "nan", "99999999999999999999"]) {
    onlyError(web("", res(`memory = "64Mi", cpu = ${bad}`)), "processes.web.resources.cpu", E.E_RANGE);
  }
  onlyError(web("", res('memory = "64Mi", cpu = "1"')), "processes.web.resources.cpu", E.E_TYPE);
});

test("resources.disk: ^[0-9]+Gi$, at least 1Gi, default 4Gi", () => {
  assert.equal(
    valid(web("", res('memory = "64Mi", disk = "1Gi"'))).manifest.processes.web?.resources.disk,
    "1Gi",
  );
  onlyError(web("", res('memory = "64Mi", disk = "4G"')), "processes.web.resources.disk", E.E_PATTERN);
  onlyError(web("", res('memory = "64Mi", disk = "512Mi"')), "processes.web.resources.disk", E.E_PATTERN);
  onlyError(web("", res('memory = "64Mi", disk = "0Gi"')), "processes.web.resources.disk", E.E_RANGE);
});

test("scaling: 0–100 integers, max >= min; autoscale is rejected", () => {
  valid(web("scaling = { min = 0, max = 100 }"));
  onlyError(web("scaling = { min = 101 }"), "processes.web.scaling.min", E.E_RANGE);
  onlyError(web("scaling = { min = -1, max = 1 }"), "processes.web.scaling.min", E.E_RANGE);
  onlyError(web("scaling = { max = 101 }"), "processes.web.scaling.max", E.E_RANGE);
  onlyError(web("scaling = { min = 1.5 }"), "processes.web.scaling.min", E.E_TYPE);
  onlyError(
    web("scaling = { min = 3, max = 2 }"),
    "processes.web.scaling.max",
    E.E_RANGE,
    /at least scaling.min/,
  );
  onlyError(web("scaling = { max = 0 }"), "processes.web.scaling.max", E.E_RANGE); // min defaults to 1
  onlyError(web("scaling = { min = 99999999999999999999 }"), "processes.web.scaling.min", E.E_RANGE);
  onlyError(web("scaling = { autoscale = true }"), "processes.web.scaling.autoscale", E.E_UNSUPPORTED);
  onlyError(
    web("[processes.web.scaling.autoscale]\ntarget_cpu = 0.5"),
    "processes.web.scaling.autoscale",
    E.E_UNSUPPORTED,
  );
});

test("ports: internal 1–65535, tcp only, names unique (derived ones too)", () => {
  const ports = (p: string) => web(`ports = [${p}]`);
  assert.deepEqual(
    valid(ports('{ internal = 1 }, { name = "admin", internal = 65535 }')).manifest.processes.web?.ports,
    [
      { name: "p1", internal: 1, protocol: "tcp" },
      { name: "admin", internal: 65535, protocol: "tcp" },
    ],
  );
  onlyError(ports("{ internal = 0 }"), "processes.web.ports[0].internal", E.E_RANGE);
  onlyError(ports("{ internal = 65536 }"), "processes.web.ports[0].internal", E.E_RANGE);
  onlyError(ports('{ internal = "80" }'), "processes.web.ports[0].internal", E.E_TYPE);
  onlyError(ports('{ name = "http" }'), "processes.web.ports[0].internal", E.E_REQUIRED);
  onlyError(ports('{ internal = 53, protocol = "udp" }'), "processes.web.ports[0].protocol", E.E_UNSUPPORTED);
  onlyError(
    ports('{ internal = 80, protocol = "http" }'),
    "processes.web.ports[0].protocol",
    E.E_UNSUPPORTED,
  );
  onlyError(ports('{ internal = 80, name = "HTTP" }'), "processes.web.ports[0].name", E.E_PATTERN);
  onlyError(
    ports('{ internal = 80, name = "a" }, { internal = 81, name = "a" }'),
    "processes.web.ports[1].name",
    E.E_DUPLICATE,
  );
  onlyError(
    ports('{ internal = 80 }, { internal = 81, name = "p80" }'),
    "processes.web.ports[1].name",
    E.E_DUPLICATE,
  );
  onlyError(
    ports('{ internal = 80, name = "a" }, { internal = 80, name = "b" }'),
    "processes.web.ports[1].internal",
    E.E_DUPLICATE,
  );
  onlyError(web("ports = 80"), "processes.web.ports", E.E_TYPE);
});

test("health: tcp on the first port by default; http needs a path; the port must resolve", () => {
  const h = (body: string) => valid(web(body)).manifest.processes.web?.health;
  const timings = {
    interval_seconds: 10,
    timeout_seconds: 2,
    grace_period_seconds: 10,
    success_threshold: 1,
    failure_threshold: 3,
  };
  assert.deepEqual(h("ports = [{ internal = 9000 }, { internal = 8080 }]"), {
    type: "tcp",
    port: 9000,
    ...timings,
  });
  assert.deepEqual(
    h('ports = [{ internal = 9000 }, { internal = 8080, name = "http" }]\nhealth = { port = "http" }'),
    {
      type: "tcp",
      port: 8080,
      ...timings,
    },
  );
  assert.deepEqual(
    h('ports = [{ internal = 9000 }]\nhealth = { type = "http", path = "/up", port = 9000 }'),
    {
      type: "http",
      port: 9000,
      path: "/up",
      ...timings,
    },
  );
  assert.equal(h(""), undefined); // no ports, no [health]: ready once running
  const withPort = (health: string) => web(`ports = [{ internal = 8080 }]\nhealth = { ${health} }`);
  onlyError(withPort('type = "http"'), "processes.web.health.path", E.E_REQUIRED);
  onlyError(withPort('type = "http", path = "healthz"'), "processes.web.health.path", E.E_PATTERN);
  onlyError(withPort('type = "http", path = "/a b"'), "processes.web.health.path", E.E_PATTERN);
  onlyError(withPort('path = "/healthz"'), "processes.web.health.path", E.E_NOT_APPLICABLE);
  onlyError(withPort('type = "grpc"'), "processes.web.health.type", E.E_ENUM);
  onlyError(withPort('port = "admin"'), "processes.web.health.port", E.E_REFERENCE);
  onlyError(withPort("port = 9090"), "processes.web.health.port", E.E_REFERENCE);
  onlyError(withPort("port = true"), "processes.web.health.port", E.E_TYPE);
  onlyError(withPort("interval_seconds = 0"), "processes.web.health.interval_seconds", E.E_RANGE);
  onlyError(withPort("timeout_seconds = 0"), "processes.web.health.timeout_seconds", E.E_RANGE);
  onlyError(withPort("grace_period_seconds = -1"), "processes.web.health.grace_period_seconds", E.E_RANGE);
  onlyError(withPort("success_threshold = 0"), "processes.web.health.success_threshold", E.E_RANGE);
  onlyError(withPort("failure_threshold = 0"), "processes.web.health.failure_threshold", E.E_RANGE);
  onlyError(web('health = { type = "tcp" }'), "processes.web.health.port", E.E_REFERENCE, /no ports/);
  // A broken port is reported once, not again as an unresolvable health port.
  onlyError(
    web('ports = [{ internal = 0 }]\nhealth = { port = "p0" }'),
    "processes.web.ports[0].internal",
    E.E_RANGE,
  );
});
