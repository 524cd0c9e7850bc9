import { KernelError } from "@plfm/kernel";
import { Type } from "typebox";

/** `?limit&cursor` of every list (spec platform.md §4.2): ordered by id, 50 by default, 200 at most. */
export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** The id a page starts after; a cursor is opaque to clients and `invalid_cursor` when tampered with. */
export function pageAfter(cursor: string | undefined): string {
  if (cursor === undefined || cursor === "") return "";
  const m = /^p1\.([A-Za-z0-9_-]+)$/.exec(cursor);
  const id = m?.[1] ? Buffer.from(m[1], "base64url").toString("utf8") : "";
  if (!/^[a-z]+_[0-9A-HJKMNP-TV-Z]{26}$/.test(id)) {
    throw new KernelError("invalid_cursor", "The cursor is malformed.");
  }
  return id;
}

/** Builds a page from `limit + 1` rows fetched: `next_cursor` only when the page is full. */
export function toPage<T>(rows: T[], limit: number, idOf: (row: T) => string): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  const more = rows.length > limit && last !== undefined;
  return { items, next_cursor: more ? `p1.${Buffer.from(idOf(last)).toString("base64url")}` : null };
}
