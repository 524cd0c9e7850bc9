// The plfm L4 edge (spec platform.md §8.3, §8.5). Pure wire code only so far.
export * from "./proxy/v2.ts";
export * from "./sni/client-hello.ts";
