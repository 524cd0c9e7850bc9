// The operator's public IPv4 pool (PLFM_IPV4_POOL, spec platform.md §1, §8.6)
// and the pure choice of a free address from it.

/** An inclusive range of IPv4 addresses as unsigned 32-bit numbers. */
export interface Ipv4Range {
  first: number;
  last: number;
}

const OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
const IPV4_RE = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

/** `a.b.c.d` → its number, or null (no leading zeros, which some parsers read as octal). */
export function ipv4ToNumber(text: string): number | null {
  const m = IPV4_RE.exec(text);
  if (!m) return null;
  return ((Number(m[1]) << 24) >>> 0) + (Number(m[2]) << 16) + (Number(m[3]) << 8) + Number(m[4]);
}

export function numberToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/**
 * Parses `PLFM_IPV4_POOL`: comma-separated addresses and CIDR blocks
 * (`203.0.113.7, 198.51.100.0/29`). A block means every address in it: the
 * operator routes the block to the edges, so there is no network or
 * broadcast address to skip. A block must be written with its host bits zero,
 * so a typo cannot silently widen it. Overlaps are merged. Empty = no pool.
 * @throws Error naming the first bad entry.
 */
export function parseIpv4Pool(text: string | undefined): Ipv4Range[] {
  const ranges: Ipv4Range[] = [];
  for (const raw of (text ?? "").split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const [addr = "", prefixText, extra] = entry.split("/");
    const base = ipv4ToNumber(addr);
    if (base === null || extra !== undefined) throw new Error(`"${entry}" is not an IPv4 address or CIDR`);
    if (prefixText === undefined) {
      ranges.push({ first: base, last: base });
      continue;
    }
    if (!/^(3[0-2]|[12]?[0-9])$/.test(prefixText)) throw new Error(`"${entry}": prefix must be 0–32`);
    const size = 2 ** (32 - Number(prefixText));
    if (base % size !== 0) {
      throw new Error(
        `"${entry}": host bits are set (the block starts at ${numberToIpv4(base - (base % size))})`,
      );
    }
    ranges.push({ first: base, last: base + size - 1 });
  }
  return mergeRanges(ranges);
}

function mergeRanges(ranges: Ipv4Range[]): Ipv4Range[] {
  const sorted = [...ranges].sort((a, b) => a.first - b.first);
  const out: Ipv4Range[] = [];
  for (const r of sorted) {
    const prev = out[out.length - 1];
    if (prev && r.first <= prev.last + 1) prev.last = Math.max(prev.last, r.last);
    else out.push({ ...r });
  }
  return out;
}

/** How many addresses the pool holds. */
export function poolSize(pool: readonly Ipv4Range[]): number {
  return pool.reduce((n, r) => n + (r.last - r.first + 1), 0);
}

/**
 * The lowest pool address not in `taken`, or null when the pool is exhausted.
 * Lowest-first keeps allocation deterministic; the cost is bounded by the
 * number of taken addresses, not by the pool's size (a /8 is fine).
 */
export function pickFreeAddress(pool: readonly Ipv4Range[], taken: ReadonlySet<number>): number | null {
  for (const r of pool) {
    for (let n = r.first; n <= r.last; n++) if (!taken.has(n)) return n;
  }
  return null;
}
