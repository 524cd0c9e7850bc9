import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, test } from "node:test";
import { runPlfm } from "./plfm-process.ts";

const version = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;
const opts = { cwd: tmpdir(), env: { ...process.env }, entry: "bin" as const };

describe("plfm (the binary)", () => {
  test("--version prints the package version and exits 0", async () => {
    const r = await runPlfm(["--version"], opts);
    assert.equal(r.code, 0);
    assert.equal(r.output.trim(), version);
  });

  test("--help lists the server command and exits 0", async () => {
    const r = await runPlfm(["--help"], opts);
    assert.equal(r.code, 0);
    assert.match(r.output, /^Usage: plfm/m);
    assert.match(r.output, /^\s+server\s/m);
    const s = await runPlfm(["server", "--help"], opts);
    assert.equal(s.code, 0);
    assert.match(s.output, /PLFM_LISTEN_ADDR/);
  });

  test("an unknown command is a usage error: exit 2", async () => {
    const r = await runPlfm(["no-such-command"], opts);
    assert.equal(r.code, 2);
    assert.match(r.output, /unknown command/);
  });

  test("server with invalid configuration names every bad variable and exits 2", async () => {
    const r = await runPlfm(["server"], {
      ...opts,
      entry: "main",
      env: { ...process.env, PLFM_LISTEN_ADDR: "::1:8080", PLFM_PROJECTION_WAIT_TIMEOUT_SECS: "-3" },
    });
    assert.equal(r.code, 2);
    assert.match(r.output, /PLFM_LISTEN_ADDR: write IPv6 addresses in brackets/);
    assert.match(r.output, /PLFM_PROJECTION_WAIT_TIMEOUT_SECS/);
  });
});
