// `npm run demo:core-loop` (issue 3's acceptance): the operator's curl-level
// script runs as a real child process against the server it starts itself,
// and exits 0 having printed every step. With PLFM_TEST_DATABASE_URL set the
// script creates (and drops) its own database there; without it, the script
// runs the embedded Postgres — either way the test runs, nothing is skipped.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
const SCRIPT = `${repoRoot}scripts/demo-core-loop.sh`;

/** Runs the script to completion (SIGTERM after `ms`, so a hung server cannot hang the test). */
function runScript(ms: number): Promise<{ code: number | string; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.DATABASE_URL;
    const child = spawn("bash", [SCRIPT], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on("data", (b: Buffer) => {
      err += b.toString();
    });
    // The script's EXIT trap stops its server and drops its database on SIGTERM.
    const timer = setTimeout(() => child.kill("SIGTERM"), ms);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? -1, out, err });
    });
  });
}

describe("npm run demo:core-loop", { timeout: 60_000 }, () => {
  test("the core loop runs against a fresh server and exits 0", async () => {
    const r = await runScript(55_000);
    const all = `--- stdout\n${r.out}\n--- stderr\n${r.err}`;
    assert.equal(r.code, 0, all);
    const expected = [
      /^✔ plfm server ready at http:\/\/127\.0\.0\.1:\d+/m,
      /^✔ minted an operator token for ops@example\.com \(nodes:admin\)$/m,
      /^✔ created an enrollment token \(etok_[0-9A-Z]{26}\)$/m,
      /^✔ enrolled node worker-1 \(node_[0-9A-Z]{26}, overlay [0-9a-f:]+\)$/m,
      /^✔ heartbeat from node_[0-9A-Z]{26}: node is active/m,
      /^✔ created org acme \(org_[0-9A-Z]{26}\); the replay answered the same org \(Idempotency-Replayed: true\)$/m,
      /^✔ created release rel_[0-9A-Z]{26}/m,
      /^✔ deployed rel_[0-9A-Z]{26} to prod \(dep_[0-9A-Z]{26}, queued\); the replay answered the same deploy$/m,
      /^✔ scaled web to 2 \(.*web=2.*; version \d+ -> \d+\)$/m,
      /^✔ created route shop\.example\.com:443 -> web:8080 \(rt_[0-9A-Z]{26}\); the replay answered the same route$/m,
      /^✔ listed instances: \d+$/m,
      /^✔ projection checkpoints:$/m,
      /^ {2}deploys +\S+ +lag \d+/m,
      /^ {2}instances +\S+ +lag \d+/m,
      /^✔ core loop done$/m,
    ];
    for (const re of expected) assert.match(r.out, re, all);
    // Steps print in order: the last line is the end of the loop.
    assert.equal(r.out.trim().split("\n").at(-1), "✔ core loop done");
  });
});
