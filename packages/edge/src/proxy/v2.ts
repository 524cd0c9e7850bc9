// PROXY protocol v2 (spec platform.md §8.5; haproxy.org proxy-protocol.txt §2.2).
//
// The edge writes one header upstream before any client byte: the 12-byte signature, 0x21 (version 2,
// PROXY), the family, the big-endian address length, then source address, destination address,
// source port, destination port. Source is the client, destination the edge listener.
//
// Family rule: the header is TCP/IPv4 (0x11, 28 bytes) only when both ends are IPv4, where an
// IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack socket reports for an IPv4 peer) counts
// as IPv4. Otherwise it is TCP/IPv6 (0x21, 52 bytes) and an IPv4 end is written IPv4-mapped, since
// one header carries one family.
//
// The decoder is for tests and in-instance front proxies: it never throws, skips TLVs, and accepts the
// LOCAL command (health checks from the proxy itself), returning need_more until the whole header is in.
import { isIPv4, isIPv6 } from "node:net";

/** `\r\n\r\n\0\r\nQUIT\n`. */
export const PROXY_V2_SIGNATURE: Buffer = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
const VERSION_2 = 0x20;
const COMMAND_LOCAL = 0x00;
const COMMAND_PROXY = 0x01;
const FAMILY_TCP4 = 0x11;
const FAMILY_TCP6 = 0x21;
const FIXED_HEADER_BYTES = 16;
const IPV4_ADDRESS_BYTES = 12; // 4 + 4 + 2 + 2
const IPV6_ADDRESS_BYTES = 36; // 16 + 16 + 2 + 2

export interface ProxyEndpoint {
  address: string;
  port: number;
}

export interface ProxyV2Addresses {
  /** The client. */
  src: ProxyEndpoint;
  /** The edge listener the client connected to. */
  dst: ProxyEndpoint;
}

/** Thrown by {@link encodeProxyV2} for an address that is not an IP literal or a port outside 0–65535. */
export class ProxyV2EncodeError extends RangeError {
  override name = "ProxyV2EncodeError";
}

/** The PROXY v2 header for a TCP connection: 28 bytes (both ends IPv4) or 52 bytes. */
export function encodeProxyV2({ src, dst }: ProxyV2Addresses): Buffer {
  const srcIp = ipBytes(src.address, "src");
  const dstIp = ipBytes(dst.address, "dst");
  const srcPort = checkPort(src.port, "src");
  const dstPort = checkPort(dst.port, "dst");
  const src4 = ipv4Of(srcIp);
  const dst4 = ipv4Of(dstIp);
  const v4 = src4 !== null && dst4 !== null;
  const addressBytes = v4 ? IPV4_ADDRESS_BYTES : IPV6_ADDRESS_BYTES;
  const out = Buffer.alloc(FIXED_HEADER_BYTES + addressBytes);
  PROXY_V2_SIGNATURE.copy(out, 0);
  out[12] = VERSION_2 | COMMAND_PROXY;
  out[13] = v4 ? FAMILY_TCP4 : FAMILY_TCP6;
  out.writeUInt16BE(addressBytes, 14);
  if (v4) {
    (src4 as Buffer).copy(out, 16);
    (dst4 as Buffer).copy(out, 20);
    out.writeUInt16BE(srcPort, 24);
    out.writeUInt16BE(dstPort, 26);
  } else {
    toIpv6(srcIp).copy(out, 16);
    toIpv6(dstIp).copy(out, 32);
    out.writeUInt16BE(srcPort, 48);
    out.writeUInt16BE(dstPort, 50);
  }
  return out;
}

/** The 16-byte LOCAL header (no addresses): a connection the proxy makes on its own behalf. */
export function encodeProxyV2Local(): Buffer {
  const out = Buffer.alloc(FIXED_HEADER_BYTES);
  PROXY_V2_SIGNATURE.copy(out, 0);
  out[12] = VERSION_2 | COMMAND_LOCAL;
  return out;
}

export type ProxyV2Family = "tcp4" | "tcp6" | "unspec" | "other";

export type ProxyV2Decoded =
  | { kind: "need_more" }
  | { kind: "invalid"; reason: string }
  | {
      kind: "ok";
      /** Bytes the header occupies, TLVs included; the client's bytes start here. */
      headerLength: number;
      command: "local" | "proxy";
      family: ProxyV2Family;
      /** Present for a PROXY command over TCP/IPv4 or TCP/IPv6. */
      src?: ProxyEndpoint;
      dst?: ProxyEndpoint;
    };

/** Reads the PROXY v2 header at the start of `input`. Never throws. */
export function decodeProxyV2(input: Uint8Array): ProxyV2Decoded {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const sigBytes = Math.min(buf.length, PROXY_V2_SIGNATURE.length);
  if (!buf.subarray(0, sigBytes).equals(PROXY_V2_SIGNATURE.subarray(0, sigBytes))) {
    return { kind: "invalid", reason: "signature" };
  }
  const versionCommand = buf[12];
  if (versionCommand !== undefined) {
    if ((versionCommand & 0xf0) !== VERSION_2) return { kind: "invalid", reason: "version" };
    const command = versionCommand & 0x0f;
    if (command !== COMMAND_LOCAL && command !== COMMAND_PROXY) return { kind: "invalid", reason: "command" };
  }
  if (buf.length < FIXED_HEADER_BYTES) return { kind: "need_more" };
  const command = ((versionCommand as number) & 0x0f) === COMMAND_PROXY ? "proxy" : "local";
  const familyByte = buf[13] as number;
  const length = buf.readUInt16BE(14);
  const family: ProxyV2Family =
    familyByte === FAMILY_TCP4
      ? "tcp4"
      : familyByte === FAMILY_TCP6
        ? "tcp6"
        : familyByte === 0
          ? "unspec"
          : "other";
  // The length must hold the addresses it announces; the rest (TLVs) is skipped.
  if (command === "proxy" && family === "tcp4" && length < IPV4_ADDRESS_BYTES) {
    return { kind: "invalid", reason: "length" };
  }
  if (command === "proxy" && family === "tcp6" && length < IPV6_ADDRESS_BYTES) {
    return { kind: "invalid", reason: "length" };
  }
  const headerLength = FIXED_HEADER_BYTES + length;
  if (buf.length < headerLength) return { kind: "need_more" };
  if (command === "local" || (family !== "tcp4" && family !== "tcp6")) {
    return { kind: "ok", headerLength, command, family };
  }
  const a = FIXED_HEADER_BYTES;
  if (family === "tcp4") {
    return {
      kind: "ok",
      headerLength,
      command,
      family,
      src: { address: formatIp(buf.subarray(a, a + 4)), port: buf.readUInt16BE(a + 8) },
      dst: { address: formatIp(buf.subarray(a + 4, a + 8)), port: buf.readUInt16BE(a + 10) },
    };
  }
  return {
    kind: "ok",
    headerLength,
    command,
    family,
    src: { address: formatIp(buf.subarray(a, a + 16)), port: buf.readUInt16BE(a + 32) },
    dst: { address: formatIp(buf.subarray(a + 16, a + 32)), port: buf.readUInt16BE(a + 34) },
  };
}

function checkPort(port: number, which: string): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ProxyV2EncodeError(`${which} port ${String(port)} is not in 0–65535`);
  }
  return port;
}

/** 4 or 16 bytes of an IP literal. Zone ids (fe80::1%eth0) have no place in the header: refused. */
function ipBytes(address: string, which: string): Buffer {
  if (typeof address === "string" && isIPv4(address)) return Buffer.from(address.split(".").map(Number));
  const bytes = typeof address === "string" && isIPv6(address) ? parseIpv6(address) : null;
  if (bytes === null) throw new ProxyV2EncodeError(`${which} address is not an IP address`);
  return bytes;
}

/** RFC 4291 §2.2 text forms (isIPv6 has already vouched for the syntax). */
function parseIpv6(text: string): Buffer | null {
  if (text.includes("%")) return null;
  let s = text;
  const tail: number[] = [];
  const lastColon = s.lastIndexOf(":");
  const last = s.slice(lastColon + 1);
  if (last.includes(".")) {
    // A dotted IPv4 tail fills the last two groups.
    const v4 = Buffer.from(last.split(".").map(Number));
    tail.push(v4.readUInt16BE(0), v4.readUInt16BE(2));
    // Keep a "::" that precedes the tail ("::ffff:1.2.3.4" → "::ffff", "::1.2.3.4" → "::").
    const prefix = s.slice(0, lastColon + 1);
    s = prefix.endsWith("::") ? prefix : prefix.slice(0, -1);
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string | undefined) =>
    part ? part.split(":").map((g) => Number.parseInt(g, 16)) : [];
  const head = groups(halves[0]);
  const rest = [...groups(halves[1]), ...tail];
  const fill = 8 - head.length - rest.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return null;
  const all = [...head, ...new Array<number>(halves.length === 1 ? 0 : fill).fill(0), ...rest];
  if (all.length !== 8 || all.some((g) => !(g >= 0 && g <= 0xffff))) return null;
  const out = Buffer.alloc(16);
  all.forEach((g, i) => {
    out.writeUInt16BE(g, i * 2);
  });
  return out;
}

const V4_MAPPED_PREFIX = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

/** The IPv4 address an address stands for: itself, or the tail of an IPv4-mapped IPv6 address. */
function ipv4Of(ip: Buffer): Buffer | null {
  if (ip.length === 4) return ip;
  return ip.subarray(0, 12).equals(V4_MAPPED_PREFIX) ? ip.subarray(12) : null;
}

function toIpv6(ip: Buffer): Buffer {
  return ip.length === 16 ? ip : Buffer.concat([V4_MAPPED_PREFIX, ip]);
}

/**
 * Dotted quad, or RFC 5952 text: lower-case hex, the longest run of two or more zero groups (the
 * first on a tie) as "::", and IPv4-mapped addresses as ::ffff:a.b.c.d (as Node reports them).
 */
export function formatIp(ip: Uint8Array): string {
  if (ip.length === 4) return Array.from(ip).join(".");
  const b = Buffer.from(ip.buffer, ip.byteOffset, ip.byteLength);
  if (b.subarray(0, 12).equals(V4_MAPPED_PREFIX)) return `::ffff:${Array.from(b.subarray(12)).join(".")}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}
