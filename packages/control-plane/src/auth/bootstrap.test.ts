import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isKernelError } from "@plfm/kernel";
import { parseMintArguments, runningEmbeddedUrl } from "./bootstrap.ts";
import { GRANTABLE_SCOPES } from "./schemas.ts";

test("mint arguments: the email is lower-cased, scopes default to every grantable one", () => {
  assert.deepEqual(parseMintArguments({ email: " Ops@Example.COM " }), {
    email: "ops@example.com",
    scopes: [...GRANTABLE_SCOPES],
  });
  assert.deepEqual(parseMintArguments({ email: "a@b", scopes: "orgs:read, apps:read,orgs:read" }).scopes, [
    "apps:read",
    "orgs:read",
  ]);
  for (const bad of [
    { email: "nope" },
    { email: "a@b", scopes: "nodes:admin" },
    { email: "a@b", scopes: " , " },
  ]) {
    assert.throws(
      () => parseMintArguments(bad),
      (err) => isKernelError(err, "invalid_argument"),
    );
  }
});

test("a running embedded Postgres is found through its postmaster.pid; a stale one is not", async () => {
  const dir = await mkdtemp(join(tmpdir(), "plfm-pid-"));
  try {
    assert.equal(runningEmbeddedUrl(dir), null, "no pid file");
    // Our own pid is certainly alive.
    await writeFile(join(dir, "postmaster.pid"), `${process.pid}\n${dir}\n1700000000\n54321\n/tmp\n`);
    assert.equal(runningEmbeddedUrl(dir), "postgres://postgres:plfm-embedded@127.0.0.1:54321/postgres");
    // A pid that cannot exist (above the kernel's pid_max).
    await writeFile(join(dir, "postmaster.pid"), `99999999\n${dir}\n1700000000\n54321\n`);
    assert.equal(runningEmbeddedUrl(dir), null);
    await writeFile(join(dir, "postmaster.pid"), "garbage\n");
    assert.equal(runningEmbeddedUrl(dir), null);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
