// Child process for lease.test.ts: competes for a lease and, while leader,
// writes a heartbeat row every ~100 ms. Prints "LEADER <pid>" on each gain.
//
// Usage: node --import tsx lease-worker.ts <database-url> <lease-name> <table>
import { createPool } from "../db/pool.ts";
import { LeaderLease } from "../lease.ts";

const [url, name, table] = process.argv.slice(2);
if (!url || !name || !table) throw new Error("usage: lease-worker.ts <url> <lease-name> <table>");

// Heartbeats go through a pool, not the lease's session: the lease must not
// depend on the work's connections and vice versa.
const pool = createPool(url, { max: 1, applicationName: "plfm-lease-worker" });
const lease = new LeaderLease({ url, name, retryMs: 1000, checkMs: 2000 });

const done = lease.run(async (signal) => {
  process.stdout.write(`LEADER ${process.pid}\n`);
  while (!signal.aborted) {
    await pool.query(`INSERT INTO ${table} (pid, at) VALUES ($1, now())`, [process.pid]);
    await new Promise((r) => setTimeout(r, 100));
  }
});

process.on("SIGTERM", () => {
  void lease
    .stop()
    .then(() => done)
    .then(() => pool.end())
    .then(() => process.exit(0));
});
