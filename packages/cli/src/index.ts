// The `plfm` CLI as a library: the command tree, for tests and for tools that embed it.
export { EXIT } from "./exit-codes.ts";
export { buildProgram } from "./program.ts";
