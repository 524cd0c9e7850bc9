import websocket from "@fastify/websocket";
import type { FastifyInstance } from "fastify";
import type { BoundedContext } from "../context.ts";
import { addPlanStreamSource } from "../fleet/plan-stream.ts";
import type { RouteDeps } from "../http/route.ts";
import { execLimits } from "./limits.ts";
import { execPlanSource } from "./plan-source.ts";
import { execProjections } from "./projections.ts";
import { ExecRelay } from "./relay.ts";
import { registerExecRoutes } from "./routes.ts";
import { registerExecSockets } from "./socket-routes.ts";

addPlanStreamSource(execPlanSource);

/** Largest WebSocket message either side may send (a frame of output or input). */
const MAX_FRAME_BYTES = 1 << 20;

/** Exec: grants with single-use tokens, the session lifecycle, and the client↔agent relay (spec §7.8). */
export const exec: BoundedContext = {
  name: "exec",
  migrations: new URL("./migrations", import.meta.url).pathname,
  projections: execProjections,
  registerRoutes(app: FastifyInstance, deps: RouteDeps) {
    const limits = execLimits(deps.execLimits);
    const relay = new ExecRelay({ pool: deps.pool, now: deps.now, log: app.log });
    registerExecRoutes(app, deps, relay, limits);
    app.register(websocket, {
      options: { maxPayload: MAX_FRAME_BYTES },
      // Replaces the plugin's own (close every socket): on shutdown the live sessions end first,
      // so their clients still get the 0x11 frame every session ends with (compliance 62).
      preClose: async function (this: FastifyInstance) {
        await relay.close();
        for (const client of this.websocketServer.clients) client.close(1001);
        this.websocketServer.close();
      },
    });
    // A child scope: it loads after the plugin, whose onRoute hook turns these into websocket routes.
    app.register(async (scope) => {
      registerExecSockets(scope, deps, relay);
      // Before the pool closes: stop the timers and finish the ends in flight.
      scope.addHook("onClose", async () => relay.close());
    });
  },
};
