// Child process for crash.test.ts: appends idempotent commands in a loop,
// `IN_FLIGHT` at a time, and prints "ACK <key> <event ids,…>" once an append
// has returned (i.e. committed). Runs until killed.
//
// Usage: node --import tsx append-loop.ts <database-url>
import { append } from "../append.ts";
import { createPool } from "../db/pool.ts";
import { isKernelError } from "../errors.ts";
import { crashCommand } from "./append-commands.ts";

const IN_FLIGHT = 4;
const url = process.argv[2];
if (!url) throw new Error("usage: append-loop.ts <database-url>");
const pool = createPool(url, { max: IN_FLIGHT, applicationName: "plfm-crash-child" });

let next = 1;
async function worker(): Promise<void> {
  for (;;) {
    const n = next++;
    const input = crashCommand(n);
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await append(pool, input);
        if (r.replayed) throw new Error(`command ${n} replayed on first send`);
        const ids = r.events.map((e) => e.eventId.toString()).join(",");
        // A pipe's stdout is synchronous on Linux: the line is out before the next append.
        process.stdout.write(`ACK ${input.idempotency?.key} ${ids}\n`);
        break;
      } catch (err) {
        // Racing writers on one aggregate: the loser wrote nothing, so retry with the same key.
        if (!isKernelError(err, "version_conflict") || attempt > 50) throw err;
        await new Promise((r) => setTimeout(r, Math.random() * 5));
      }
    }
  }
}

await Promise.all(Array.from({ length: IN_FLIGHT }, worker)).catch((err) => {
  process.stderr.write(`append-loop failed: ${String(err)}\n`);
  process.exit(1);
});
