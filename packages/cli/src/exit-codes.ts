/** CLI exit codes (spec platform.md §11). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  auth: 3,
  notFound: 4,
  conflict: 5,
  transient: 6,
  internal: 7,
} as const;
