import type { BoundedContext } from "../context.ts";
import { registerSecretsNodeRoutes } from "./node-routes.ts";
import { secretsProjections } from "./projections.ts";
import { registerSecretsRoutes } from "./routes.ts";

export { mayNodeReadVersion, type NodeSecretsPlan, type PlannedInstance } from "./node-access.ts";
export { readSecretMaterial, type SecretMaterialText } from "./store.ts";

/** An env's secrets: metadata, versions sealed under the master key, writes (spec platform.md §9). */
export const secrets: BoundedContext = {
  name: "secrets",
  migrations: new URL("./migrations", import.meta.url).pathname,
  projections: secretsProjections,
  registerRoutes: (app, deps) => {
    registerSecretsRoutes(app, deps);
    registerSecretsNodeRoutes(app, deps);
  },
};
