// What crosses the wire or lives in users' files: shared by the server, the
// CLI, the agent and the edge. Imports nothing of ours.

export * from "./manifest/index.ts";
export * from "./secrets/index.ts";
