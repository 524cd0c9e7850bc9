import type { BoundedContext } from "../context.ts";
import { registerStorageNodeRoutes } from "./node-routes.ts";
import { storageProjections } from "./projections.ts";
import { registerStorageRoutes } from "./routes.ts";

export { reportRestoreStatus } from "./restore-commands.ts";
export { reportSnapshotStatus } from "./snapshot-commands.ts";
export * from "./state-machines.ts";
export { STORAGE_USAGE } from "./usage.ts";
export { reportVolumeState } from "./volume-commands.ts";

/** Volumes, attachments, snapshot and restore records and the nodes' reports (executing them on nodes comes later). */
export const storage: BoundedContext = {
  name: "storage",
  migrations: new URL("./migrations", import.meta.url).pathname,
  projections: storageProjections,
  registerRoutes: (app, deps) => {
    registerStorageRoutes(app, deps);
    registerStorageNodeRoutes(app, deps);
  },
};
