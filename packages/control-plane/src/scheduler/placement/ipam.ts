// Instance address allocation in fd70:6c66:0:1::/64 (spec platform.md §8.1,
// compliance 46). Pure: the reconciler reads `ipam_instances` into an
// IpamState, asks for addresses, and writes them with the placement.
//
// Search order: upward from the hint (the previous call's next_hint, else 1),
// wrapping to 1 after max_suffix, skipping used addresses and those released
// less than 24 h ago. With the hint each address costs O(1); without one the
// first call scans past the used suffixes once, O(used + placements), never
// O(address space). Suffixes stay below 2^53 so they are exact JS numbers:
// 9·10^15 addresses is a pool no cluster exhausts, and it keeps the hot path
// free of bigint.
import { compressIpv6 } from "../../fleet/node.ts";
import type { IpamState } from "./types.ts";

/** Released addresses are not handed out again for this long (§8.1). */
export const IPAM_COOLDOWN_MS = 24 * 60 * 60 * 1000;

export const MAX_INSTANCE_SUFFIX = Number.MAX_SAFE_INTEGER;

const G = 0x10000;

/** The instance /128 with suffix `n` ≥ 1, RFC 5952 text, e.g. `fd70:6c66:0:1::2a`. */
export function instanceOverlayAddress(n: number): string {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`instance suffix out of range: ${n}`);
  const g7 = n % G;
  const g6 = Math.floor(n / G) % G;
  const g5 = Math.floor(n / G ** 2) % G;
  const g4 = Math.floor(n / G ** 3) % G;
  return compressIpv6([0xfd70, 0x6c66, 0, 1, g4, g5, g6, g7]);
}

export interface Allocator {
  /** The next free address, or null once every suffix in the pool was tried. */
  next(): string | null;
  /** Where the next search would start: store it as IpamState.next_hint. */
  hint(): number;
}

/** An allocator for one placement call; addresses it returns are skipped by its later calls. */
export function createAllocator(ipam: IpamState, now: number): Allocator {
  const max = Math.min(ipam.max_suffix ?? MAX_INSTANCE_SUFFIX, MAX_INSTANCE_SUFFIX);
  const start = ipam.next_hint;
  let cursor = start !== undefined && Number.isSafeInteger(start) && start >= 1 && start <= max ? start : 1;
  // The cursor only moves forward (wrapping), so once `max` suffixes were
  // examined every one was seen since this allocator began: the pool is full.
  let examined = 0;
  const free = (address: string): boolean => {
    if (ipam.used.has(address)) return false;
    const releasedAt = ipam.cooling.get(address);
    return releasedAt === undefined || now - releasedAt >= IPAM_COOLDOWN_MS;
  };
  return {
    next() {
      while (examined < max) {
        const address = instanceOverlayAddress(cursor);
        examined++;
        cursor = cursor >= max ? 1 : cursor + 1;
        if (free(address)) return address;
      }
      return null;
    },
    hint: () => cursor,
  };
}

/** How many cooling addresses are still inside the 24 h window (for `why` facts). */
export function coolingCount(ipam: IpamState, now: number): number {
  let n = 0;
  for (const releasedAt of ipam.cooling.values()) if (now - releasedAt < IPAM_COOLDOWN_MS) n++;
  return n;
}
