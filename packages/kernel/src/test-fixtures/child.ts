// Runs a fixture script as a real child process (`node --import tsx`) and
// collects its stdout lines, for the multi-process tests.
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface Child {
  proc: ChildProcess;
  pid: number;
  /** Every stdout line so far, in order. */
  lines: string[];
  stderr: () => string;
  /** Resolves once `cond()` holds (checked on each line); rejects on exit or after `timeoutMs`. */
  waitFor(cond: () => boolean, timeoutMs: number): Promise<void>;
  /** Resolves once the process has exited and its stdout is fully read. */
  closed: Promise<void>;
  /** SIGKILL unless already gone; waits for the close. */
  kill(): Promise<void>;
}

/** Starts `test-fixtures/<script>` with `args`. */
export function startChild(script: string, args: string[]): Child {
  const path = fileURLToPath(new URL(`./${script}`, import.meta.url));
  const proc = spawn(process.execPath, ["--import", "tsx", path, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (proc.pid === undefined) throw new Error(`could not start ${script}`);
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let err = "";
  proc.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const rl = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  rl.on("line", (line) => {
    lines.push(line);
    for (const w of waiters) w();
  });
  let exited = false;
  const closed = new Promise<void>((resolve) =>
    proc.on("close", () => {
      exited = true;
      for (const w of waiters) w();
      resolve();
    }),
  );
  return {
    proc,
    pid: proc.pid,
    lines,
    stderr: () => err,
    closed,
    waitFor(cond, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (cond()) return finish(resolve);
          if (exited) finish(() => reject(new Error(`${script} exited; stderr:\n${err}`)));
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`${script}: condition not met in ${timeoutMs} ms\n${err}`))),
          timeoutMs,
        );
        const finish = (f: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          f();
        };
        waiters.add(check);
        check();
      });
    },
    async kill() {
      if (!exited) proc.kill("SIGKILL");
      await closed;
    },
  };
}

/** Polls `cond` every `stepMs` until it holds; throws `what` after `timeoutMs`. */
export async function waitUntil(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  stepMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
