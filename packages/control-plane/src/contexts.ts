// Every bounded context the server mounts, in migration order. A new context
// adds one line here.
import { apps } from "./apps/index.ts";
import { auth } from "./auth/index.ts";
import type { BoundedContext } from "./context.ts";
import { exec } from "./exec/index.ts";
import { fleet } from "./fleet/index.ts";
import { logs } from "./logs/index.ts";
import { networking } from "./networking/index.ts";
import { operator } from "./operator/index.ts";
import { scheduler } from "./scheduler/index.ts";
import { secrets } from "./secrets/index.ts";
import { storage } from "./storage/index.ts";
import { tenancy } from "./tenancy/index.ts";

export const contexts: readonly BoundedContext[] = [
  auth,
  tenancy,
  apps,
  networking,
  secrets,
  storage,
  operator,
  fleet,
  exec,
  logs,
  scheduler,
];
