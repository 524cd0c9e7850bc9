// The request schema of an id (spec platform.md §2.1): `<prefix>_<ULID>`,
// upper-case Crockford base32. One definition for every route's params.
import { Type } from "typebox";

export const idSchema = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$` });
