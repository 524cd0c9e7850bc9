import { newId } from "@plfm/kernel";

// Spec §4.1: at most 128 printable ASCII characters. Anything else is replaced,
// not rejected: a bad correlation header must never fail the request itself.
const VALID_REQUEST_ID = /^[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?$/;

/** The incoming `X-Request-Id` when it is valid, else a new `req_<ULID>`. */
export function requestIdFor(header: string | string[] | undefined): string {
  return typeof header === "string" && VALID_REQUEST_ID.test(header) ? header : newId("req");
}
