// Route hostnames (spec platform.md §8.3): lower-case, one trailing dot
// stripped, IDNA → punycode, exact names only (no wildcards), so that two
// spellings of one name always collide in the global uniqueness claim.
import { domainToASCII } from "node:url";
import { KernelError } from "@plfm/kernel";

const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
// ASCII allowed before IDNA. Everything else ASCII ('/', '%', '@', ':', '*',
// '_', spaces …) is refused up front: domainToASCII parses like a URL host
// and would quietly percent-decode or cut at such characters.
const ASCII_OK_RE = /^[A-Za-z0-9.-]$/;
// Non-ASCII controls, format characters and spaces are never part of a name.
const NON_ASCII_BAD_RE = /^[\p{C}\p{Z}]$/u;

/** The longest hostname DNS can carry, without the root dot. */
export const MAX_HOSTNAME_LENGTH = 253;

/**
 * The canonical form of a route hostname, or null when it is not a valid
 * public DNS name: at least two labels, each 1–63 of [a-z0-9-] not starting
 * or ending with '-', 253 characters at most, a non-numeric top-level label
 * (so IPv4 literals are refused).
 */
export function canonicalHostname(raw: string): string | null {
  const trimmed = raw.endsWith(".") ? raw.slice(0, -1) : raw;
  if (trimmed === "") return null;
  for (const ch of trimmed) {
    const isAscii = (ch.codePointAt(0) ?? 0) < 0x80;
    if (isAscii ? !ASCII_OK_RE.test(ch) : NON_ASCII_BAD_RE.test(ch)) return null;
  }
  const ascii = domainToASCII(trimmed.toLowerCase());
  if (ascii === "" || ascii.length > MAX_HOSTNAME_LENGTH) return null;
  const labels = ascii.split(".");
  if (labels.length < 2 || !labels.every((l) => LABEL_RE.test(l))) return null;
  if (/^[0-9]+$/.test(labels[labels.length - 1] as string)) return null;
  return ascii;
}

/** {@link canonicalHostname}, throwing 400 `invalid_hostname` with the field path. */
export function requireHostname(raw: string, field = "hostname"): string {
  const name = canonicalHostname(raw);
  if (name === null) {
    throw new KernelError(
      "invalid_hostname",
      `'${raw.slice(0, 300)}' is not a valid hostname: exact DNS names only (no wildcards, IP addresses or single labels).`,
      { details: [{ field, code: "invalid_hostname", message: "not a valid DNS hostname" }] },
    );
  }
  return name;
}
