// Every bounded context the server mounts, in migration order. A new context
// adds one line here.
import type { BoundedContext } from "./context.ts";
import { tenancy } from "./tenancy/index.ts";

export const contexts: readonly BoundedContext[] = [tenancy];
