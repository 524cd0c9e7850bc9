// Test support: runs the real `plfm` binary as a child process and watches it.
// Used by the CLI's end-to-end tests; not part of the binary.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const cliRoot = fileURLToPath(new URL("..", import.meta.url));
/** The CLI entry, run as `node --import <tsx> main.ts` exactly like `npm start`. */
export const MAIN_TS = `${cliRoot}src/main.ts`;
/** The installed `bin` shim (`node_modules/.bin/plfm` links here). */
export const BIN_SHIM = `${cliRoot}bin/plfm.mjs`;
/** tsx resolved from here, so a child started in any working directory finds it. */
export const TSX_IMPORT = import.meta.resolve("tsx");

/** A running `plfm` child with its output collected. */
export interface PlfmProcess {
  child: ChildProcess;
  /** stdout and stderr as received so far. */
  output(): string;
  /** Resolves with the exit code (or the signal name) once the child has exited. */
  exited: Promise<number | NodeJS.Signals>;
}

/**
 * Spawns `node <entry> …args` in `cwd` with `env` (nothing inherited beyond
 * what the caller passes). `entry` is "main" for `--import tsx main.ts`, or
 * "bin" for the shim.
 */
export function spawnPlfm(
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; entry?: "main" | "bin" },
): PlfmProcess {
  const entryArgs = options.entry === "bin" ? [BIN_SHIM] : ["--import", TSX_IMPORT, MAIN_TS];
  const child = spawn(process.execPath, [...entryArgs, ...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const exited = new Promise<number | NodeJS.Signals>((resolve) => {
    child.on("exit", (code, signal) => resolve(code ?? signal ?? -1));
  });
  return { child, output: () => out, exited };
}

/** Runs `plfm …args` to completion and returns its exit code and output. */
export async function runPlfm(
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; entry?: "main" | "bin" },
): Promise<{ code: number | NodeJS.Signals; output: string }> {
  const p = spawnPlfm(args, options);
  const code = await p.exited;
  return { code, output: p.output() };
}

/** Polls `url` until it answers `status`; returns the elapsed milliseconds, or throws after `timeoutMs`. */
export async function waitForStatus(
  url: string,
  status: number,
  timeoutMs: number,
  alive?: PlfmProcess,
): Promise<number> {
  const started = Date.now();
  let last = "no answer";
  while (Date.now() - started < timeoutMs) {
    if (alive && alive.child.exitCode !== null) {
      throw new Error(`plfm exited with ${alive.child.exitCode} before ${url} answered:\n${alive.output()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === status) return Date.now() - started;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `${url} did not answer ${status} within ${timeoutMs} ms (last: ${last})\n${alive?.output() ?? ""}`,
  );
}

/** Waits up to `ms` for the child to exit; SIGKILLs it after that. */
export async function stopWithin(p: PlfmProcess, ms: number): Promise<number | NodeJS.Signals> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.exited;
  const timer = setTimeout(() => p.child.kill("SIGKILL"), ms);
  try {
    return await p.exited;
  } finally {
    clearTimeout(timer);
  }
}
