// The plfm node agent. Only the image unpacker so far (spec platform.md §7.6).

export * from "./image/index.ts";
