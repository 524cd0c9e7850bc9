// Rules for volumes inside processes: mounts, mount paths, the single writer, the
// replica limit; and the secrets table with its v1 rejection.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MANIFEST_ERROR_CODES as E } from "./errors.ts";
import { errorsOf, HEAD, onlyError, valid, web } from "./test-support.ts";

const VOLUME = '[[volumes]]\nname = "data"\nsize = "1Gi"';
const mounted = (body: string) => web(body, { after: VOLUME });

test("mounts: to a declared volume, absolute path, read_only default false", () => {
  assert.deepEqual(
    valid(mounted('mounts = [{ volume = "data", path = "/data" }]')).manifest.processes.web?.mounts,
    [{ volume: "data", path: "/data", read_only: false }],
  );
  onlyError(
    mounted('mounts = [{ volume = "dta", path = "/data" }]'),
    "processes.web.mounts[0].volume",
    E.E_REFERENCE,
  );
  onlyError(
    web('mounts = [{ volume = "data", path = "/data" }]'),
    "processes.web.mounts[0].volume",
    E.E_REFERENCE,
  );
  onlyError(mounted('mounts = [{ path = "/data" }]'), "processes.web.mounts[0].volume", E.E_REQUIRED);
  onlyError(mounted('mounts = [{ volume = "data" }]'), "processes.web.mounts[0].path", E.E_REQUIRED);
  onlyError(
    mounted('mounts = [{ volume = "data", path = "/d", read_only = "no" }]'),
    "processes.web.mounts[0].read_only",
    E.E_TYPE,
  );
  onlyError(
    mounted('mounts = [{ volume = "data", path = "/d", host_path = "/srv" }]'),
    "processes.web.mounts[0].host_path",
    E.E_UNSUPPORTED,
  );
  onlyError(
    mounted('mounts = [{ volume = "data", path = "/d", privileged = true }]'),
    "processes.web.mounts[0].privileged",
    E.E_UNSUPPORTED,
  );
  // A dangling reference is still reported when the same mount's path is also bad.
  assert.deepEqual(
    errorsOf(web('mounts = [{ volume = "nope", path = "/proc" }]')).map((e) => [e.path, e.code]),
    [
      ["processes.web.mounts[0].path", E.E_MOUNT_PATH],
      ["processes.web.mounts[0].volume", E.E_REFERENCE],
    ],
  );
});

test("mount paths: forbidden system paths, /run/secrets and below, and .. (checklist 31)", () => {
  const at = (path: string) => mounted(`mounts = [{ volume = "data", path = ${JSON.stringify(path)} }]`);
  for (const bad of [
    "/",
    "//",
    "/proc",
    "/proc/self",
    "/sys",
    "/sys/fs/cgroup",
    "/dev",
    "/dev/shm",
    "/run",
    "/run/",
    "/tmp",
    "/tmp/./",
    "/run/secrets",
    "/run/secrets/x",
    "/run/secrets/platform.env",
    "/run//secrets/./x/",
    "/data/..",
    "/data/../run/secrets",
    "/../data",
    "data",
    "./data",
    "",
    "/da\tta",
  ]) {
    onlyError(at(bad), "processes.web.mounts[0].path", E.E_MOUNT_PATH);
  }
  const path = (p: string) => valid(at(p)).manifest.processes.web?.mounts[0]?.path;
  assert.equal(path("/var//lib/./db/"), "/var/lib/db");
  assert.equal(path("/data/..hidden"), "/data/..hidden"); // only a whole ".." segment climbs
  assert.equal(path("/run/app"), "/run/app");
  assert.equal(path("/run/secretsdir"), "/run/secretsdir");
  onlyError(
    mounted('mounts = [{ volume = "data", path = "/d" }, { volume = "data", path = "/e" }]'),
    "processes.web.mounts[1].volume",
    E.E_DUPLICATE,
  );
  onlyError(
    web('mounts = [{ volume = "a", path = "/d" }, { volume = "b", path = "/d/" }]', {
      after: '[[volumes]]\nname = "a"\nsize = "1Gi"\n[[volumes]]\nname = "b"\nsize = "1Gi"',
    }),
    "processes.web.mounts[1].path",
    E.E_DUPLICATE,
  );
});

test("a volume has one writer: two process types cannot mount it", () => {
  const text = `${HEAD}
[processes.b]
resources = { memory = "64Mi" }
mounts = [{ volume = "data", path = "/data" }]
[processes.a]
resources = { memory = "64Mi" }
mounts = [{ volume = "data", path = "/data", read_only = true }]
${VOLUME}`;
  onlyError(text, "processes.b.mounts[0].volume", E.E_DUPLICATE, /process type 'a'/);
});

test("E_VOLUME_REPLICA_LIMIT: a process with mounts cannot scale past one (checklist 30)", () => {
  const mount = 'mounts = [{ volume = "data", path = "/data" }]';
  const message = /^process type 'web' has volume mounts and cannot have replicas > 1$/;
  onlyError(
    mounted(`${mount}\nscaling = { max = 2 }`),
    "processes.web.scaling.max",
    E.E_VOLUME_REPLICA_LIMIT,
    message,
  );
  onlyError(
    mounted(`${mount}\nscaling = { min = 2 }`),
    "processes.web.scaling.max",
    E.E_VOLUME_REPLICA_LIMIT,
    message,
  );
  assert.equal(
    errorsOf(mounted(`${mount}\nscaling = { max = 2 }`))[0]?.message,
    "process type 'web' has volume mounts and cannot have replicas > 1",
  );
  valid(mounted(mount));
  valid(mounted(`${mount}\nscaling = { min = 1, max = 1 }`));
  valid(mounted(`${mount}\nscaling = { min = 0, max = 0 }`));
  valid(web("scaling = { max = 2 }")); // no mounts, no limit
});

test("secrets: required (default false); custom secrets paths are rejected", () => {
  assert.deepEqual(valid(web()).manifest.processes.web?.secrets, { required: false });
  assert.deepEqual(valid(web("secrets = { required = true }")).manifest.processes.web?.secrets, {
    required: true,
  });
  onlyError(web('secrets = { required = "yes" }'), "processes.web.secrets.required", E.E_TYPE);
  onlyError(web('secrets = { path = "/etc/app.env" }'), "processes.web.secrets.path", E.E_UNSUPPORTED);
  onlyError(web('secrets = { mount_path = "/x" }'), "processes.web.secrets.mount_path", E.E_UNSUPPORTED);
  onlyError(web('secrets = { format = "env" }'), "processes.web.secrets.format", E.E_UNKNOWN_KEY);
});
